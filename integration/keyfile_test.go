package integration

import (
	"bytes"
	"os"
	"path/filepath"
	"runtime"
	"strings"
	"testing"
)

// TestWorldReadableKeyFileStopsStart: with a key file that other local
// users may read (a copy or a restore that dropped its mode), the gateway
// does not start, and says which file, its mode and the chmod to run;
// after the chmod it starts.
func TestWorldReadableKeyFileStopsStart(t *testing.T) {
	if runtime.GOOS == "windows" {
		t.Skip("Windows has no group and other permission bits")
	}
	dir := filepath.Join(t.TempDir(), "data")
	keyFile := dir + ".key"
	if err := os.WriteFile(keyFile, bytes.Repeat([]byte{7}, 32), 0o600); err != nil {
		t.Fatal(err)
	}
	if err := os.Chmod(keyFile, 0o644); err != nil {
		t.Fatal(err)
	}
	err := loadBare(t, dir, "")
	if err == nil {
		t.Fatal("the gateway started with a key file readable by everyone")
	}
	for _, want := range []string{keyFile, "0644", "chmod 600 " + keyFile} {
		if !strings.Contains(err.Error(), want) {
			t.Errorf("start error %q does not say %q", err, want)
		}
	}

	if err := os.Chmod(keyFile, 0o600); err != nil {
		t.Fatal(err)
	}
	startGateway(t, gatewayOptions{dir: dir})
}
