package caddyfile_test

import (
	"bytes"
	"encoding/json"
	"reflect"
	"strings"
	"testing"

	"github.com/caddyserver/caddy/v2/caddyconfig"

	"github.com/applinks/caddy-applinks/module/applinks"
	"github.com/applinks/caddy-applinks/module/gateway"
	"github.com/applinks/caddy-applinks/module/guard"
	"github.com/applinks/caddy-applinks/module/outgoing/inject"
)

// FuzzCaddyfile: whatever an operator writes in the applinks global option
// and in a site's applinks, require_token and outgoing_token directives,
// the adapter either refuses it with an error or makes the same JSON every
// time, in which every applinks module decodes strictly (no field its Go
// type lacks) and encodes back to the same JSON.
func FuzzCaddyfile(f *testing.F) {
	for _, s := range [][2]string{
		{"", "require_token"},
		{"storage badger /tmp/x {\n sync_writes\n}\nsecret_key {env.K}\nissuer https://app.example.com\naccess_token_ttl 30m\nrefresh_token_ttl 90d\nallow_private_endpoints", "applinks\nrequire_token /api/* WRITE"},
		{"user alice $2a$10$HA/MiydE5ODylJzfnEOEwumIVU8RoVE15ksCqQWe4W5QuNnePZ/t2 ADMIN\nincoming ci {\n redirect_uri https://ci.example.com/cb\n scope WRITE\n client_secret s\n require_pkce\n}", "require_token {\n session\n}"},
		{"login oidc https://accounts.example.com {\n client_id a\n client_secret b\n role_claim groups\n role admins ADMIN\n default_role NONE\n allowed_domains example.com\n trusted_email on\n}", ""},
		{"outgoing jira {\n provider oauth2 https://jira.example.com/authorize https://jira.example.com/token\n client_id a\n client_secret b\n scopes read write\n mode shared\n}", "outgoing_token jira"},
		{"outgoing g {\n provider google\n}\noutgoing m {\n provider microsoft common\n}\noutgoing o {\n provider oidc https://idp.example\n}", "outgoing_token /x/* g"},
		{"code_ttl 30s\nrefresh_grace 5s\nsession_ttl 8h\nsecret_overlap 48h\nid_token_algorithm RS256", "require_token ADMIN"},
		{"incoming a {\n}\nincoming a {\n}", "require_token NOPE"},
		{"access_token_ttl -1s", "require_token a b c"},
		{"storage postgres {env.DSN}", "outgoing_token"},
	} {
		f.Add(s[0], s[1])
	}
	f.Fuzz(func(t *testing.T, global, site string) {
		if len(global)+len(site) > 4096 {
			return
		}
		doc := []byte("{\n\tadmin off\n\tapplinks {\n" + global + "\n\t}\n}\n\nexample.com {\n" + site + "\n}\n")
		adapter := caddyconfig.GetAdapter("caddyfile")
		first, _, err := adapter.Adapt(doc, map[string]any{"filename": "Caddyfile"})
		second, _, err2 := adapter.Adapt(doc, map[string]any{"filename": "Caddyfile"})
		if (err == nil) != (err2 == nil) || !bytes.Equal(first, second) {
			t.Fatalf("adapting twice gave\n%s (%v)\nand\n%s (%v)", first, err, second, err2)
		}
		if err != nil {
			if strings.Contains(err.Error(), "panic") {
				t.Fatalf("adapting: %v", err)
			}
			return
		}
		var cfg struct {
			Apps struct {
				Applinks json.RawMessage `json:"applinks"`
				HTTP     json.RawMessage `json:"http"`
			} `json:"apps"`
		}
		if err := json.Unmarshal(first, &cfg); err != nil {
			t.Fatalf("adapted JSON does not decode: %v\n%s", err, first)
		}
		if cfg.Apps.Applinks != nil {
			roundTrip(t, cfg.Apps.Applinks, new(applinks.App))
		}
		var http any
		if cfg.Apps.HTTP != nil {
			if err := json.Unmarshal(cfg.Apps.HTTP, &http); err != nil {
				t.Fatalf("http app does not decode: %v", err)
			}
		}
		walkHandlers(http, func(name string, raw []byte) {
			switch name {
			case "applinks":
				roundTrip(t, raw, new(gateway.Handler))
			case "require_token":
				roundTrip(t, raw, new(guard.Guard))
			case "outgoing_token":
				roundTrip(t, raw, new(inject.Handler))
			}
		})
	})
}

// roundTrip decodes raw into v refusing unknown fields, encodes v again
// and fails unless both JSON documents say the same.
func roundTrip(t *testing.T, raw []byte, v any) {
	t.Helper()
	dec := json.NewDecoder(bytes.NewReader(raw))
	dec.DisallowUnknownFields()
	if err := dec.Decode(v); err != nil {
		t.Fatalf("adapted %T does not decode strictly: %v\n%s", v, err, raw)
	}
	again, err := json.Marshal(v)
	if err != nil {
		t.Fatalf("encoding %T: %v", v, err)
	}
	var a, b any
	if err := json.Unmarshal(raw, &a); err != nil {
		t.Fatal(err)
	}
	if err := json.Unmarshal(again, &b); err != nil {
		t.Fatal(err)
	}
	if !reflect.DeepEqual(a, b) {
		t.Fatalf("%T does not round-trip:\nadapted %s\nencoded %s", v, raw, again)
	}
}

// walkHandlers calls fn with the name and JSON of every handler object in
// the decoded http app, subroutes included.
func walkHandlers(v any, fn func(name string, raw []byte)) {
	switch v := v.(type) {
	case map[string]any:
		if name, ok := v["handler"].(string); ok {
			fields := make(map[string]any, len(v))
			for k, c := range v {
				if k != "handler" {
					fields[k] = c
				}
			}
			raw, _ := json.Marshal(fields)
			fn(name, raw)
		}
		for _, c := range v {
			walkHandlers(c, fn)
		}
	case []any:
		for _, c := range v {
			walkHandlers(c, fn)
		}
	}
}
