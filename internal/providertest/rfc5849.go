package providertest

// SignatureVector is an OAuth 1.0a request taken from RFC 5849 with what the RFC derives
// from it. Tests of any signer or verifier check themselves against these values, which
// come from the RFC and not from either implementation.
type SignatureVector struct {
	Name        string // where it comes from
	Method, URL string // the request line, as an absolute URL
	ContentType string // of Body; "" without a body
	Body        string
	// Authorization is the request's header, as the RFC prints it.
	Authorization string
	// Params are the decoded parameters that enter the signature (§3.4.1.3.1): the query,
	// the header's but realm and oauth_signature, and the form body, in that order.
	Params [][2]string
	// BaseString is the signature base string (§3.4.1.1).
	BaseString string
	// ClientSecret, TokenSecret and Signature (base64) are set where the RFC prints a
	// signature that its secrets reproduce.
	ClientSecret, TokenSecret, Signature string
}

// RFC5849Vectors are the RFC's examples.
var RFC5849Vectors = []SignatureVector{
	{
		// The example request of §3.4.1.1, whose base string the RFC prints (there broken
		// over lines). The RFC's oauth_signature for it cannot be reproduced (a known
		// erratum), so only the base string counts.
		Name:        "RFC 5849 §3.4.1.1",
		Method:      "POST",
		URL:         "http://example.com/request?b5=%3D%253D&a3=a&c%40=&a2=r%20b",
		ContentType: "application/x-www-form-urlencoded",
		Body:        "c2&a3=2+q",
		Authorization: `OAuth realm="Example", oauth_consumer_key="9djdj82h48djs9d2", oauth_token="kkk9d7dh3k39sjv7", ` +
			`oauth_signature_method="HMAC-SHA1", oauth_timestamp="137131201", oauth_nonce="7d8f3e4a", oauth_signature="bYT5CMsGcbgUdFHObYMEfcx6bsw%3D"`,
		// As §3.4.1.3.1 lists them.
		Params: [][2]string{
			{"b5", "=%3D"}, {"a3", "a"}, {"c@", ""}, {"a2", "r b"},
			{"oauth_consumer_key", "9djdj82h48djs9d2"}, {"oauth_token", "kkk9d7dh3k39sjv7"},
			{"oauth_signature_method", "HMAC-SHA1"}, {"oauth_timestamp", "137131201"}, {"oauth_nonce", "7d8f3e4a"},
			{"c2", ""}, {"a3", "2 q"},
		},
		BaseString: "POST&http%3A%2F%2Fexample.com%2Frequest&a2%3Dr%2520b%26a3%3D2%2520q" +
			"%26a3%3Da%26b5%3D%253D%25253D%26c%2540%3D%26c2%3D%26oauth_consumer_" +
			"key%3D9djdj82h48djs9d2%26oauth_nonce%3D7d8f3e4a%26oauth_signature_m" +
			"ethod%3DHMAC-SHA1%26oauth_timestamp%3D137131201%26oauth_token%3Dkkk" +
			"9d7dh3k39sjv7",
	},
	{
		// §1.2's last request: printer.example.com fetches Jane's photo. The RFC gives both
		// secrets and a signature they reproduce, so this one checks the key (§3.4.2) too.
		Name:   "RFC 5849 §1.2",
		Method: "GET",
		URL:    "http://photos.example.net/photos?file=vacation.jpg&size=original",
		Authorization: `OAuth realm="Photos", oauth_consumer_key="dpf43f3p2l4k3l03", oauth_token="nnch734d00sl2jdk", ` +
			`oauth_signature_method="HMAC-SHA1", oauth_timestamp="137131202", oauth_nonce="chapoH", oauth_signature="MdpQcU8iPSUjWoN%2FUDMsK2sui9I%3D"`,
		Params: [][2]string{
			{"file", "vacation.jpg"}, {"size", "original"},
			{"oauth_consumer_key", "dpf43f3p2l4k3l03"}, {"oauth_token", "nnch734d00sl2jdk"},
			{"oauth_signature_method", "HMAC-SHA1"}, {"oauth_timestamp", "137131202"}, {"oauth_nonce", "chapoH"},
		},
		BaseString: "GET&http%3A%2F%2Fphotos.example.net%2Fphotos&file%3Dvacation.jpg" +
			"%26oauth_consumer_key%3Ddpf43f3p2l4k3l03%26oauth_nonce%3DchapoH" +
			"%26oauth_signature_method%3DHMAC-SHA1%26oauth_timestamp%3D137131202" +
			"%26oauth_token%3Dnnch734d00sl2jdk%26size%3Doriginal",
		ClientSecret: "kd94hf93k423kf44",
		TokenSecret:  "pfkkdhi9sl3r4s00",
		Signature:    "MdpQcU8iPSUjWoN/UDMsK2sui9I=",
	},
	{
		// §3.4.1.2's first base string URI example (upper-case scheme and host, the default
		// port, an encoded path), in a GET whose one parameter is the query's.
		Name:       "RFC 5849 §3.4.1.2, default port",
		Method:     "GET",
		URL:        "HTTP://EXAMPLE.COM:80/r%20v/X?id=123",
		Params:     [][2]string{{"id", "123"}},
		BaseString: "GET&http%3A%2F%2Fexample.com%2Fr%2520v%2FX&id%3D123",
	},
	{
		// §3.4.1.2's second example: a port that is not the default stays.
		Name:       "RFC 5849 §3.4.1.2, other port",
		Method:     "GET",
		URL:        "https://www.example.net:8080/?q=1",
		Params:     [][2]string{{"q", "1"}},
		BaseString: "GET&https%3A%2F%2Fwww.example.net%3A8080%2F&q%3D1",
	},
}
