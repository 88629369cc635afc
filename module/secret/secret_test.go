package secret_test

import (
	"bytes"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"runtime"
	"strings"
	"testing"

	"github.com/applinks/caddy-applinks/module/secret"
)

const passphrase = "correct horse battery staple, 32+ chars"

func mustPassphrase(t *testing.T, p string) *secret.Keys {
	t.Helper()
	k, err := secret.FromPassphrase(p)
	if err != nil {
		t.Fatalf("FromPassphrase: %v", err)
	}
	return k
}

func TestFromPassphraseLength(t *testing.T) {
	tests := []struct {
		name    string
		in      string
		wantErr bool
	}{
		{"empty", "", true},
		{"31 characters", strings.Repeat("x", secret.MinPassphraseLen-1), true},
		{"32 characters", strings.Repeat("x", secret.MinPassphraseLen), false},
		{"long", strings.Repeat("x", 200), false},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			k, err := secret.FromPassphrase(tt.in)
			if (err != nil) != tt.wantErr {
				t.Fatalf("FromPassphrase(%d chars) error = %v, want error %v", len(tt.in), err, tt.wantErr)
			}
			if (k == nil) != tt.wantErr {
				t.Fatalf("FromPassphrase(%d chars) keys = %v", len(tt.in), k)
			}
		})
	}
}

func TestSealOpen(t *testing.T) {
	k := mustPassphrase(t, passphrase)
	tests := []struct {
		name       string
		plain, add []byte
	}{
		{"secret", []byte("als_the client secret"), []byte("link-1")},
		{"empty plaintext", []byte{}, []byte("link-1")},
		{"no additional data", []byte("a value sealed without additional data"), nil},
		{"binary", []byte{0, 1, 2, 255}, []byte{0}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			sealed := k.Seal(tt.plain, tt.add)
			// Short plaintexts may occur in random ciphertext by chance.
			if len(tt.plain) >= 4 && bytes.Contains(sealed, tt.plain) {
				t.Fatalf("sealed value %x contains the plaintext", sealed)
			}
			got, err := k.Open(sealed, tt.add)
			if err != nil {
				t.Fatalf("Open: %v", err)
			}
			if !bytes.Equal(got, tt.plain) {
				t.Fatalf("Open = %q, want %q", got, tt.plain)
			}
		})
	}
}

func TestSealIsRandomized(t *testing.T) {
	k := mustPassphrase(t, passphrase)
	a, b := k.Seal([]byte("same"), []byte("ad")), k.Seal([]byte("same"), []byte("ad"))
	if bytes.Equal(a, b) {
		t.Fatal("sealing the same value twice gave the same bytes")
	}
}

func TestOpenRefuses(t *testing.T) {
	k := mustPassphrase(t, passphrase)
	other := mustPassphrase(t, passphrase+" but different")
	plain, add := []byte("client secret"), []byte("link-1")
	sealed := k.Seal(plain, add)
	tamper := func(i int) []byte {
		c := bytes.Clone(sealed)
		c[i] ^= 0x01
		return c
	}
	tests := []struct {
		name   string
		keys   *secret.Keys
		sealed []byte
		add    []byte
	}{
		{"other additional data", k, sealed, []byte("link-2")},
		{"missing additional data", k, sealed, nil},
		{"nonce tampered", k, tamper(0), add},
		{"ciphertext tampered", k, tamper(13), add},
		{"tag tampered", k, tamper(len(sealed) - 1), add},
		{"truncated", k, sealed[:len(sealed)-1], add},
		{"shorter than nonce", k, sealed[:5], add},
		{"empty", k, nil, add},
		{"other key", other, sealed, add},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got, err := tt.keys.Open(tt.sealed, tt.add)
			if err == nil {
				t.Fatalf("Open succeeded with %q", got)
			}
		})
	}
}

func TestFromPassphraseIsDeterministic(t *testing.T) {
	a := mustPassphrase(t, passphrase)
	b := mustPassphrase(t, passphrase)
	sealed := a.Seal([]byte("kept across restarts"), []byte("id"))
	got, err := b.Open(sealed, []byte("id"))
	if err != nil {
		t.Fatalf("keys from the same passphrase cannot open each other's values: %v", err)
	}
	if string(got) != "kept across restarts" {
		t.Fatalf("Open = %q", got)
	}
	if !bytes.Equal(a.MAC("p", []byte("d")), b.MAC("p", []byte("d"))) {
		t.Fatal("keys from the same passphrase give different MACs")
	}
}

func TestFromKeyFile(t *testing.T) {
	dir := t.TempDir()
	path := filepath.Join(dir, "sub", "dir", "key")

	k1, err := secret.FromKeyFile(path)
	if err != nil {
		t.Fatalf("first FromKeyFile: %v", err)
	}
	fi, err := os.Stat(path)
	if err != nil {
		t.Fatalf("key file not created: %v", err)
	}
	if fi.Size() != 32 {
		t.Fatalf("key file holds %d bytes, want 32", fi.Size())
	}
	if runtime.GOOS != "windows" {
		if perm := fi.Mode().Perm(); perm != 0o600 {
			t.Fatalf("key file mode = %o, want 600", perm)
		}
	}
	key, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	if bytes.Equal(key, make([]byte, 32)) {
		t.Fatal("generated key is all zeros")
	}

	k2, err := secret.FromKeyFile(path)
	if err != nil {
		t.Fatalf("second FromKeyFile: %v", err)
	}
	after, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	if !bytes.Equal(key, after) {
		t.Fatal("second FromKeyFile rewrote the key file")
	}
	sealed := k1.Seal([]byte("v"), []byte("ad"))
	if got, err := k2.Open(sealed, []byte("ad")); err != nil || string(got) != "v" {
		t.Fatalf("second FromKeyFile gave another key: Open = %q, %v", got, err)
	}

	k3, err := secret.FromKeyFile(filepath.Join(dir, "other-key"))
	if err != nil {
		t.Fatal(err)
	}
	if _, err := k3.Open(sealed, []byte("ad")); err == nil {
		t.Fatal("a fresh key file opened a value sealed under another one")
	}
}

func TestFromKeyFileWrongSize(t *testing.T) {
	for _, size := range []int{0, 16, 31, 33, 64} {
		t.Run(fmt.Sprintf("%d bytes", size), func(t *testing.T) {
			path := filepath.Join(t.TempDir(), "key")
			if err := os.WriteFile(path, bytes.Repeat([]byte{7}, size), 0o600); err != nil {
				t.Fatal(err)
			}
			if k, err := secret.FromKeyFile(path); err == nil {
				t.Fatalf("FromKeyFile accepted a %d-byte key file: %v", size, k)
			}
			got, err := os.ReadFile(path)
			if err != nil {
				t.Fatal(err)
			}
			if len(got) != size {
				t.Fatalf("FromKeyFile changed a %d-byte key file to %d bytes", size, len(got))
			}
		})
	}
}

func TestFromKeyFileExistingKey(t *testing.T) {
	path := filepath.Join(t.TempDir(), "key")
	if err := os.WriteFile(path, bytes.Repeat([]byte{7}, 32), 0o600); err != nil {
		t.Fatal(err)
	}
	a, err := secret.FromKeyFile(path)
	if err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(path, bytes.Repeat([]byte{8}, 32), 0o600); err != nil {
		t.Fatal(err)
	}
	b, err := secret.FromKeyFile(path)
	if err != nil {
		t.Fatal(err)
	}
	if bytes.Equal(a.MAC("p", nil), b.MAC("p", nil)) {
		t.Fatal("FromKeyFile ignored the key in the file")
	}
}

func TestFromKeyFileUnreadable(t *testing.T) {
	// A folder where the file should be cannot be read as a key.
	dir := t.TempDir()
	if _, err := secret.FromKeyFile(dir); err == nil {
		t.Fatal("FromKeyFile accepted a folder")
	}
}

func TestMAC(t *testing.T) {
	k := mustPassphrase(t, passphrase)
	data := []byte("session hash")
	base := k.MAC("applinks csrf session", data)
	if len(base) != 32 {
		t.Fatalf("MAC has %d bytes, want 32 (HMAC-SHA256)", len(base))
	}
	if !bytes.Equal(base, k.MAC("applinks csrf session", data)) {
		t.Fatal("MAC is not stable")
	}
	tests := []struct {
		name    string
		keys    *secret.Keys
		purpose string
		data    []byte
	}{
		{"other purpose", k, "applinks csrf login", data},
		{"empty purpose", k, "", data},
		{"other data", k, "applinks csrf session", []byte("session hasH")},
		{"no data", k, "applinks csrf session", nil},
		{"other key", mustPassphrase(t, passphrase+"!"), "applinks csrf session", data},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if got := tt.keys.MAC(tt.purpose, tt.data); bytes.Equal(got, base) {
				t.Fatalf("MAC(%q, %q) equals the reference MAC", tt.purpose, tt.data)
			}
		})
	}
}

// TestKeyFileReadableByOthersIsRefused: a key file that other local users
// may read (a 0644 file from a careless copy) would hand them every sealed
// secret, so the gateway refuses to start with it, saying how to fix it.
func TestKeyFileReadableByOthersIsRefused(t *testing.T) {
	if runtime.GOOS == "windows" {
		t.Skip("Windows has no group and other permission bits")
	}
	for _, mode := range []os.FileMode{0o644, 0o640, 0o604, 0o660, 0o602, 0o620, 0o666, 0o700} {
		t.Run(fmt.Sprintf("%04o", mode), func(t *testing.T) {
			path := filepath.Join(t.TempDir(), "key")
			if err := os.WriteFile(path, bytes.Repeat([]byte{7}, 32), 0o600); err != nil {
				t.Fatal(err)
			}
			if err := os.Chmod(path, mode); err != nil {
				t.Fatal(err)
			}
			k, err := secret.FromKeyFile(path)
			wantRefused := mode&0o077 != 0
			if !wantRefused {
				if err != nil {
					t.Fatalf("FromKeyFile refused a %04o key file: %v", mode, err)
				}
				return
			}
			if err == nil {
				t.Fatalf("FromKeyFile accepted a %04o key file: %v", mode, k)
			}
			if !errors.Is(err, secret.ErrKeyFileMode) {
				t.Fatalf("error %v does not match ErrKeyFileMode", err)
			}
			for _, want := range []string{path, fmt.Sprintf("%04o", mode), "chmod 600 " + path} {
				if !strings.Contains(err.Error(), want) {
					t.Errorf("error %q does not say %q", err, want)
				}
			}
		})
	}
	t.Run("owner only", func(t *testing.T) {
		for _, mode := range []os.FileMode{0o600, 0o400} {
			path := filepath.Join(t.TempDir(), "key")
			if err := os.WriteFile(path, bytes.Repeat([]byte{7}, 32), mode); err != nil {
				t.Fatal(err)
			}
			if _, err := secret.FromKeyFile(path); err != nil {
				t.Fatalf("FromKeyFile refused a %04o key file: %v", mode, err)
			}
		}
	})
}
