package outgoing_test

import (
	"testing"

	"github.com/applinks/caddy-applinks/module/outgoing"
)

func TestValidateName(t *testing.T) {
	for name, ok := range map[string]bool{
		"drive": true, "jira-cloud_2.0": true, "a": true,
		"": false, ".": false, "..": false, "my drive": false, "a/b": false, "é": false,
		string(make([]byte, 101)): false,
	} {
		if err := outgoing.ValidateName(name); (err == nil) != ok {
			t.Errorf("ValidateName(%q) = %v, want ok=%v", name, err, ok)
		}
	}
}
