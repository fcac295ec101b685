package broker

import "crypto/subtle"

// BotForKey returns the bot whose api_keys hold key, for callers that are not told the bot
// (the MCP endpoint, /mcp). Every key of every bot is compared in constant time, so the
// answer's timing says nothing about which bot or key matched, or how much of it. providers.yaml
// refuses a key listed for two bots; a key that matches more than one anyway (a configuration
// built in code) opens none, so that no key ever reaches a bot by accident.
func (b *Broker) BotForKey(key string) (string, error) {
	if key == "" {
		return "", newError(CodeUnauthorized, "missing API key: send Authorization: Bearer <one of the bot's api_keys>")
	}
	bot, matches := "", 0
	for _, bc := range b.cfg.Bots {
		for _, k := range b.apiKeys[bc.Name] {
			if subtle.ConstantTimeCompare(k, []byte(key)) == 1 {
				bot, matches = bc.Name, matches+1
			}
		}
	}
	if matches != 1 {
		return "", newError(CodeUnauthorized, "this API key does not open any bot")
	}
	return bot, nil
}
