package providers

import (
	"github.com/markbates/goth"
	"github.com/markbates/goth/providers/amazon"
	"github.com/markbates/goth/providers/battlenet"
	"github.com/markbates/goth/providers/bitbucket"
	"github.com/markbates/goth/providers/bitly"
	"github.com/markbates/goth/providers/box"
	"github.com/markbates/goth/providers/classlink"
	"github.com/markbates/goth/providers/dailymotion"
	"github.com/markbates/goth/providers/deezer"
	"github.com/markbates/goth/providers/digitalocean"
	"github.com/markbates/goth/providers/dropbox"
	"github.com/markbates/goth/providers/eveonline"
	"github.com/markbates/goth/providers/facebook"
	"github.com/markbates/goth/providers/fitbit"
	"github.com/markbates/goth/providers/gplus"
	"github.com/markbates/goth/providers/heroku"
	"github.com/markbates/goth/providers/hubspot"
	"github.com/markbates/goth/providers/instagram"
	"github.com/markbates/goth/providers/intercom"
	"github.com/markbates/goth/providers/kakao"
	"github.com/markbates/goth/providers/lark"
	"github.com/markbates/goth/providers/line"
	"github.com/markbates/goth/providers/linkedin"
	"github.com/markbates/goth/providers/mailru"
	"github.com/markbates/goth/providers/meetup"
	"github.com/markbates/goth/providers/onedrive"
	"github.com/markbates/goth/providers/oura"
	"github.com/markbates/goth/providers/patreon"
	"github.com/markbates/goth/providers/salesforce"
	"github.com/markbates/goth/providers/seatalk"
	"github.com/markbates/goth/providers/slack"
	"github.com/markbates/goth/providers/soundcloud"
	"github.com/markbates/goth/providers/spotify"
	"github.com/markbates/goth/providers/strava"
	"github.com/markbates/goth/providers/stripe"
	"github.com/markbates/goth/providers/tiktok"
	"github.com/markbates/goth/providers/twitch"
	"github.com/markbates/goth/providers/typetalk"
	"github.com/markbates/goth/providers/uber"
	"github.com/markbates/goth/providers/vk"
	"github.com/markbates/goth/providers/wepay"
	"github.com/markbates/goth/providers/yahoo"
	"github.com/markbates/goth/providers/yammer"
	"github.com/markbates/goth/providers/yandex"
	"github.com/markbates/goth/providers/zoom"
)

// plainKinds are the goth types built by `New(key, secret, callbackURL, scopes...)` with
// no knobs: hard-coded endpoints, the authorization-code flow with `code` alone.
//
// Left out on purpose: apple (a signed-JWT client secret, a cross-site POST callback, and
// lestrrat-go/jwx, which is not in go.mod), microsoftonline (imports markbates/going, not
// in go.mod; azureadv2 covers Microsoft accounts), lastfm, steam, shopify, wechat and
// wecom (their callbacks carry other parameters than code/oauth_verifier, or need per-shop
// state), tumblr and xero (OAuth 1.0a through goth's timeout-less consumer with
// hard-coded URLs), naver and reddit (no scopes argument).
var plainKinds = map[string]*kind{
	"amazon":       {build: plain(amazon.New)},
	"battlenet":    {build: plain(battlenet.New)},
	"bitbucket":    {build: plain(bitbucket.New), apiBase: fixed("https://api.bitbucket.org/2.0")},
	"bitly":        {build: plain(bitly.New)},
	"box":          {build: plain(box.New)},
	"classlink":    {build: plain(classlink.New)},
	"dailymotion":  {build: plain(dailymotion.New)},
	"deezer":       {build: plain(deezer.New)},
	"digitalocean": {build: plain(digitalocean.New), apiBase: fixed("https://api.digitalocean.com")},
	"dropbox":      {build: plain(dropbox.New), apiBase: fixed("https://api.dropboxapi.com")},
	"eveonline":    {build: plain(eveonline.New)},
	"facebook":     {build: plain(facebook.New), apiBase: fixed("https://graph.facebook.com")},
	"fitbit":       {build: plain(fitbit.New), pkce: true, apiBase: fixed("https://api.fitbit.com")},
	"gplus":        {build: plain(gplus.New)},
	"heroku":       {build: plain(heroku.New), apiBase: fixed("https://api.heroku.com")},
	"hubspot":      {build: plain(hubspot.New)},
	"instagram":    {build: plain(instagram.New)},
	"intercom":     {build: plain(intercom.New)},
	"kakao":        {build: plain(kakao.New)},
	"lark":         {build: plain(lark.New)},
	"line":         {build: plain(line.New)},
	"linkedin":     {build: plain(linkedin.New), apiBase: fixed("https://api.linkedin.com")},
	"mailru":       {build: plain(mailru.New)},
	"meetup":       {build: plain(meetup.New)},
	"onedrive":     {build: plain(onedrive.New)},
	"oura":         {build: plain(oura.New)},
	"patreon":      {build: plain(patreon.New)},
	"salesforce":   {build: plain(salesforce.New)},
	"seatalk":      {build: plain(seatalk.New)},
	"slack":        {build: plain(slack.New), apiBase: fixed("https://slack.com/api")},
	// Slack's auth.revoke is not RFC 7009 (it takes the token as its own credential and
	// reports failure as 200 {"ok":false}), so slack has no revocation endpoint here.
	"soundcloud": {build: plain(soundcloud.New)},
	"spotify":    {build: plain(spotify.New), apiBase: fixed("https://api.spotify.com")},
	"strava":     {build: plain(strava.New), apiBase: fixed("https://www.strava.com/api/v3")},
	"stripe":     {build: plain(stripe.New)},
	"tiktok":     {build: plain(tiktok.New)},
	"twitch":     {build: plain(twitch.New), apiBase: fixed("https://api.twitch.tv")},
	"typetalk":   {build: plain(typetalk.New)},
	"uber": {build: plain(uber.New), apiBase: fixed("https://api.uber.com"),
		revocation: fixed("https://login.uber.com/oauth/v2/revoke")},
	"vk":     {build: plain(vk.New)},
	"wepay":  {build: plain(wepay.New)},
	"yahoo":  {build: plain(yahoo.New)},
	"yammer": {build: plain(yammer.New)},
	"yandex": {build: plain(yandex.New)},
	"zoom":   {build: plain(zoom.New), pkce: true, revocation: fixed("https://zoom.us/oauth/revoke"), apiBase: fixed("https://api.zoom.us/v2")},
}

// plain adapts a goth constructor; the type parameter lets one helper take every
// package's New, each returning its own *Provider.
func plain[P goth.Provider](newFn func(key, secret, callbackURL string, scopes ...string) P) func(*buildArgs) (goth.Provider, error) {
	return func(a *buildArgs) (goth.Provider, error) {
		return newFn(a.key, a.secret, a.callbackURL, a.scopes...), nil
	}
}
