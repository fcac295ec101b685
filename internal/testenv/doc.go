// Package testenv is what the tests of every package use to drive a real broker: the wiring
// of internal/app on an httptest server with its own SQLite file, configured from Go
// (Start with a Config of Bots) or from the lines of a providers.yaml (StartBroker...);
// a browser with a cookie jar that completes a link (the connect page, the provider's consent,
// the callback, the confirm code); the fake providers (the sandbox, TokenFake); a digest of
// every table of the store (Broker.Snapshot); and the OpenAPI contract check that Main puts
// in front of every bot API call of a package's tests.
//
// It is test support: only _test.go files import it.
package testenv
