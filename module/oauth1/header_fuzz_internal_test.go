package oauth1

import (
	"net/http/httptest"
	"reflect"
	"strings"
	"testing"
)

// FuzzAuthorizationHeader: whatever the Authorization header holds, Parse
// does not panic, and a header parseHeaderParams accepts means the same
// parameters when written back in canonical form (round trip), so no two
// readers of one header can disagree on what it signs.
func FuzzAuthorizationHeader(f *testing.F) {
	for _, s := range []string{
		`realm="Example", oauth_consumer_key="9djdj82h48djs9d2", oauth_token="kkk9d7dh3k39sjv7", oauth_signature_method="HMAC-SHA1", oauth_timestamp="137131201", oauth_nonce="7d8f3e4a", oauth_signature="bYT5CMsGcbgUdFHObYMEfcx6bsw%3D"`,
		`oauth_consumer_key="a",oauth_nonce="b"`,
		` oauth_consumer_key = "a" ,  oauth_nonce="%20"`,
		`oauth_consumer_key="a", oauth_consumer_key="b"`,
		`x="",y=""`,
		`oauth_callback="http%3A%2F%2Fcallback%3Fa%3Db"`,
		`a="b`,
		`="b"`,
		`a="b",`,
		`a=b`,
	} {
		f.Add(s, "a=1&b=%20")
	}
	f.Fuzz(func(t *testing.T, header, query string) {
		req := httptest.NewRequest("GET", "/", nil)
		req.Header.Set("Authorization", "OAuth "+header)
		if strings.ContainsAny(query, "#") {
			query = strings.ReplaceAll(query, "#", "")
		}
		_, _ = Parse(req, "https://gw.example.com/p?"+query, 1<<10)
		pairs, err := parseHeaderParams(header)
		if err != nil {
			return
		}
		var b strings.Builder
		for i, p := range pairs {
			if i > 0 {
				b.WriteString(", ")
			}
			b.WriteString(Encode(p.name) + `="` + Encode(p.value) + `"`)
		}
		again, err := parseHeaderParams(b.String())
		if err != nil {
			t.Fatalf("accepted %q, refused its canonical form %q: %v", header, b.String(), err)
		}
		if len(pairs) == 0 && len(again) == 0 {
			return
		}
		if !reflect.DeepEqual(pairs, again) {
			t.Fatalf("%q means %v, its canonical form %q means %v", header, pairs, b.String(), again)
		}
	})
}
