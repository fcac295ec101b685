package main

import (
	"os"
	"testing"

	"github.com/oauthbroker/oauthbroker/internal/app"
	"github.com/oauthbroker/oauthbroker/internal/sandbox"
	"github.com/oauthbroker/oauthbroker/internal/testenv"
)

// The command's tests start brokers through internal/testenv (the broker on httptest, the
// browser, the fakes, the OpenAPI contract check); this file gives its helpers the short
// names the tests here use.

// TestMain checks every bot API answer against the OpenAPI document (testenv.Main).
func TestMain(m *testing.M) { os.Exit(testenv.Main(m)) }

// testBroker is a testenv.Broker with the fields and methods the tests here name.
type testBroker struct {
	*testenv.Broker
	t      testing.TB
	app    *app.App
	dbPath string
	logs   *syncBuffer
}

func wrap(b *testenv.Broker) *testBroker {
	return &testBroker{Broker: b, t: b.T, app: b.App, dbPath: b.DBPath, logs: b.Logs}
}

func startBrokerWith(t testing.TB, botsYAML string, opts app.Options) *testBroker {
	t.Helper()
	return wrap(testenv.StartBrokerWith(t, botsYAML, opts))
}

func startBrokerServer(t testing.TB, serverYAML, botsYAML string, opts app.Options) *testBroker {
	t.Helper()
	return wrap(testenv.StartBrokerServer(t, serverYAML, botsYAML, opts))
}

func startSandboxBrokerWith(t testing.TB, confirm string, opts app.Options) (*testBroker, *sandbox.Server) {
	t.Helper()
	b, sb := testenv.StartSandboxBrokerWith(t, confirm, opts)
	return wrap(b), sb
}

func (b *testBroker) api(method, path, key string, body, out any) int {
	b.t.Helper()
	return b.API(method, path, key, body, out)
}

func (b *testBroker) link(bot, key, provider, channel, user string) string {
	b.t.Helper()
	return b.Link(bot, key, provider, channel, user)
}

func (b *testBroker) identities(bot, key, channel, user string) []identityBody {
	b.t.Helper()
	return b.Identities(bot, key, channel, user)
}

func (b *testBroker) credentials(bot, key string, id int64) credentialsBody {
	b.t.Helper()
	return b.Credentials(bot, key, id)
}

func (b *testBroker) linkOne(bot, key, provider, channel, user string) identityBody {
	b.t.Helper()
	return b.LinkOne(bot, key, provider, channel, user)
}

func (b *testBroker) credentialsRaw(bot, key string, id int64) (int, credentialsBody, problemBody, string) {
	b.t.Helper()
	return b.CredentialsRaw(bot, key, id)
}

func (b *testBroker) runBackground() { b.RunBackground() }

// hookSecret is the webhook secret of the brokers the crash and binary tests run.
const hookSecret = "hook-secret-0123456789"

const (
	keyA = testenv.KeyA
	keyB = testenv.KeyB

	refreshOK           = testenv.RefreshOK
	refreshInvalidGrant = testenv.RefreshInvalidGrant
	refreshServerError  = testenv.RefreshServerError
	refreshHang         = testenv.RefreshHang
)

type (
	problemBody     = testenv.ProblemBody
	linkBody        = testenv.LinkBody
	identityBody    = testenv.IdentityBody
	credentialsBody = testenv.CredentialsBody
	syncBuffer      = testenv.SyncBuffer
	clock           = testenv.Clock
	tokenFake       = testenv.TokenFake
)

var (
	glBot          = testenv.GlBot
	newReceiver    = testenv.NewReceiver
	checkDelivery  = testenv.CheckDelivery
	eventKinds     = testenv.EventKinds
	newBrowser     = testenv.NewBrowser
	visit          = testenv.Visit
	stopAtCallback = testenv.StopAtCallback
	newClock       = testenv.NewClock
	connectForms   = testenv.ConnectForms
	connectAll     = testenv.ConnectAll
	providerState  = testenv.ProviderState
	pageCode       = testenv.PageCode
	isComplete     = testenv.IsComplete
	openLink       = testenv.OpenLink
	endpointsYAML  = testenv.EndpointsYAML
	newTokenFake   = testenv.NewTokenFake
	gitlabYAML     = testenv.GitlabYAML
	fastWebhooks   = testenv.FastWebhooks
)

// remote is a broker running elsewhere (a process, behind a balancer), driven at url.
func remote(t testing.TB, url string) *testBroker { return wrap(&testenv.Broker{T: t, URL: url}) }
