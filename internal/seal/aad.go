package seal

// TokenAAD is the associated data an identity's sealed token field is bound to: the
// identity's natural key (bot, channel, chat user, provider, account id at the provider),
// known before its row exists, and the field's name. A sealed value copied into another row
// or field then fails to open instead of handing one user's token to another.
//
// Every value in a store was sealed with it: changing it makes every stored token
// unreadable, so it is written once, here, and the broker, the key rotation and the tools
// that seed or read stores all call it.
func TokenAAD(bot, channel, user, provider, providerUserID, field string) []byte {
	b := make([]byte, 0, 128)
	for _, part := range []string{"oauthbroker/token/v1", bot, channel, user, provider, providerUserID, field} {
		b = append(b, part...)
		b = append(b, 0)
	}
	return b
}
