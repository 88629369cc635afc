package outgoing_test

import (
	"context"
	"errors"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"go.uber.org/zap"

	"github.com/applinks/caddy-applinks/module/oauth1"
	"github.com/applinks/caddy-applinks/module/outgoing"
	"github.com/applinks/caddy-applinks/module/secret"
	"github.com/applinks/caddy-applinks/module/store/badgerstore/badgertest"
)

// consumerInfoService is a service over real Badger whose runtime links
// may reach loopback when private.
func consumerInfoService(t *testing.T, private bool) *outgoing.Service {
	t.Helper()
	keys, err := secret.FromPassphrase("a passphrase of at least thirty-two characters")
	if err != nil {
		t.Fatal(err)
	}
	return outgoing.NewService(nil, badgertest.Open(t), keys, loadMetadataProvider, zap.NewNop(), time.Now, outgoing.Reach{PrivateRuntime: private})
}

// servedConsumerInfo is the gateway's own consumer identity as it serves
// it.
func servedConsumerInfo(t *testing.T, s *outgoing.Service) (outgoing.ConsumerInfo, []byte) {
	t.Helper()
	c, err := s.Consumer(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	info := outgoing.ConsumerInfo{Key: c.Key, Name: "gw.example.com", PublicKey: c.PublicKeyBase64(), Description: "caddy-applinks at https://gw.example.com"}
	doc, err := info.Marshal()
	if err != nil {
		t.Fatal(err)
	}
	return info, doc
}

// TestConsumerInfoRoundTrip: what the gateway serves parses back to the
// same identity, and Atlassian's own document (with a callback and the
// key wrapped over lines) parses too.
func TestConsumerInfoRoundTrip(t *testing.T) {
	s := consumerInfoService(t, false)
	info, doc := servedConsumerInfo(t, s)
	if !strings.HasPrefix(string(doc), "<?xml") || strings.Contains(string(doc), "<callback>") {
		t.Fatalf("served document: %s", doc)
	}
	got, err := outgoing.ParseConsumerInfo(doc)
	if err != nil || got.Key != info.Key || got.PublicKey != info.PublicKey || got.Name != info.Name || got.Description != info.Description {
		t.Fatalf("ParseConsumerInfo(served) = %+v, %v; want %+v", got, err, info)
	}
	half := len(info.PublicKey) / 2
	atlassian := "<?xml version=\"1.0\" encoding=\"UTF-8\"?>\n<consumer>\n  <key>jira:1234</key>\n  <name>JIRA</name>\n  <publicKey>" +
		info.PublicKey[:half] + "\n  " + info.PublicKey[half:] + "</publicKey>\n  <description>Atlassian JIRA at https://jira.example.com</description>\n  <callback>https://jira.example.com/plugins/servlet/oauth/callback</callback>\n</consumer>\n"
	got, err = outgoing.ParseConsumerInfo([]byte(atlassian))
	if err != nil || got.Key != "jira:1234" || got.PublicKey != info.PublicKey || got.Callback == "" {
		t.Fatalf("ParseConsumerInfo(Atlassian's) = %+v, %v", got, err)
	}
	if _, err := oauth1.ParsePublicKey([]byte(got.PublicKey)); err != nil {
		t.Fatal(err)
	}
}

// badConsumerInfos are documents that are no usable consumer-info.
var badConsumerInfos = map[string]string{
	"empty":          "",
	"not XML":        "{\"key\": \"applinks:1\"}",
	"an HTML page":   "<!DOCTYPE html><html><body>Not found</body></html>",
	"another root":   "<applink><key>k</key><publicKey>MIIB</publicKey></applink>",
	"no key":         "<consumer><name>x</name><publicKey>%s</publicKey></consumer>",
	"blank key":      "<consumer><key>  </key><publicKey>%s</publicKey></consumer>",
	"key with space": "<consumer><key>a b</key><publicKey>%s</publicKey></consumer>",
	"no public key":  "<consumer><key>k</key></consumer>",
	"bad public key": "<consumer><key>k</key><publicKey>bm90IGEga2V5</publicKey></consumer>",
	"not base64":     "<consumer><key>k</key><publicKey>***</publicKey></consumer>",
	"unclosed":       "<consumer><key>k</key><publicKey>%s</publicKey>",
	"an entity":      "<!DOCTYPE consumer [<!ENTITY k \"key\">]><consumer><key>&k;</key><publicKey>%s</publicKey></consumer>",
}

// TestParseConsumerInfoRefuses: each bad document is ErrNoConsumerInfo.
func TestParseConsumerInfoRefuses(t *testing.T) {
	info, _ := servedConsumerInfo(t, consumerInfoService(t, false))
	for name, doc := range badConsumerInfos {
		doc = strings.ReplaceAll(doc, "%s", info.PublicKey)
		if got, err := outgoing.ParseConsumerInfo([]byte(doc)); !errors.Is(err, outgoing.ErrNoConsumerInfo) {
			t.Errorf("%s: ParseConsumerInfo = %+v, %v; want ErrNoConsumerInfo", name, got, err)
		}
	}
}

// FuzzParseConsumerInfo: no document makes the parser panic, and what it
// accepts has a consumer key without spaces and an RSA public key.
func FuzzParseConsumerInfo(f *testing.F) {
	for _, doc := range badConsumerInfos {
		f.Add([]byte(doc))
	}
	f.Add([]byte("<consumer><key>k</key><publicKey>MFwwDQYJKoZIhvcNAQEBBQADSwAwSAJBAL</publicKey></consumer>"))
	f.Fuzz(func(t *testing.T, doc []byte) {
		info, err := outgoing.ParseConsumerInfo(doc)
		if err != nil {
			if !errors.Is(err, outgoing.ErrNoConsumerInfo) {
				t.Fatalf("error %v is not ErrNoConsumerInfo", err)
			}
			return
		}
		if info.Key == "" || strings.ContainsAny(info.Key, " \t\r\n") {
			t.Fatalf("accepted key %q", info.Key)
		}
		if _, err := oauth1.ParsePublicKey([]byte(info.PublicKey)); err != nil {
			t.Fatalf("accepted public key %q: %v", info.PublicKey, err)
		}
	})
}

// TestFetchConsumerInfo: the service reads another gateway's
// consumer-info at its base URL; a 404, a document that is no
// consumer-info and a port where nothing listens are told apart; a
// loopback URL is refused, before any request, unless private endpoints
// are allowed.
func TestFetchConsumerInfo(t *testing.T) {
	private := consumerInfoService(t, true)
	info, doc := servedConsumerInfo(t, consumerInfoService(t, false))
	var hits atomic.Int32
	other := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		hits.Add(1)
		switch r.URL.Path {
		case "/gw" + outgoing.ConsumerInfoPath:
			w.Header().Set("Content-Type", "application/xml")
			w.Write(doc)
		case "/html" + outgoing.ConsumerInfoPath:
			w.Write([]byte("<html><body>Welcome</body></html>"))
		default:
			http.NotFound(w, r)
		}
	}))
	t.Cleanup(other.Close)
	ctx := context.Background()

	got, err := private.FetchConsumerInfo(ctx, other.URL+"/gw/")
	if err != nil || got.Key != info.Key || got.PublicKey != info.PublicKey {
		t.Fatalf("FetchConsumerInfo = %+v, %v; want %+v", got, err, info)
	}
	for _, path := range []string{"/nothing", "/html"} {
		if _, err := private.FetchConsumerInfo(ctx, other.URL+path); !errors.Is(err, outgoing.ErrNoConsumerInfo) {
			t.Errorf("%s: %v, want ErrNoConsumerInfo", path, err)
		}
	}
	closed := httptest.NewServer(http.NotFoundHandler())
	closed.Close()
	if _, err := private.FetchConsumerInfo(ctx, closed.URL); !errors.Is(err, outgoing.ErrProviderUnavailable) {
		t.Errorf("nothing listening: %v, want ErrProviderUnavailable", err)
	}

	before := hits.Load()
	if _, err := consumerInfoService(t, false).FetchConsumerInfo(ctx, other.URL+"/gw"); !errors.Is(err, outgoing.ErrRefused) {
		t.Errorf("loopback under the runtime policy: %v, want ErrRefused", err)
	}
	if hits.Load() != before {
		t.Error("a refused URL was requested")
	}
}
