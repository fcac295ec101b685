package providers

// numericIDTypes are the types whose goth provider decodes the account id into an integer and
// formats it (strconv.Itoa(u.ID)): a profile whose id is null or missing — or a body that is
// just `null` — comes out as UserID "0" with no error. That is no account at all; storing it
// would merge every broken profile of a chat user into one identity "0".
var numericIDTypes = map[string]bool{
	"battlenet": true, "classlink": true, "deezer": true, "eveonline": true, "gitea": true,
	"github": true, "gitlab": true, "hubspot": true, "influxcloud": true, "meetup": true,
	"sandbox": true, "soundcloud": true, "strava": true, "typetalk": true, "vk": true, "wepay": true,
}

// noUserID reports whether a profile of type typ came back without an account id.
func noUserID(typ, id string) bool {
	return id == "" || (id == "0" && numericIDTypes[typ])
}
