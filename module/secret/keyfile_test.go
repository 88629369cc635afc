package secret_test

import (
	"bytes"
	"errors"
	"os"
	"path/filepath"
	"testing"

	"github.com/applinks/caddy-applinks/module/secret"
)

// TestReadKeyFileCreatesNothing: checking a configuration (caddy
// validate) used to create the key file, and its folder, as a side
// effect; ReadKeyFile writes nothing, and the key it made up is the one
// WriteKeyFile stores later.
func TestReadKeyFileCreatesNothing(t *testing.T) {
	dir := filepath.Join(t.TempDir(), "data")
	path := dir + "/applinks.key"
	k, missing, err := secret.ReadKeyFile(path)
	if err != nil || !missing {
		t.Fatalf("ReadKeyFile of a missing file = %v, missing %v", err, missing)
	}
	if _, err := os.Stat(dir); !os.IsNotExist(err) {
		t.Fatalf("ReadKeyFile created %s (stat: %v)", dir, err)
	}
	sealed := k.Seal([]byte("sealed before the file exists"), nil)
	if err := k.WriteKeyFile(path); err != nil {
		t.Fatalf("WriteKeyFile: %v", err)
	}
	again, missing, err := secret.ReadKeyFile(path)
	if err != nil || missing {
		t.Fatalf("ReadKeyFile after WriteKeyFile = %v, missing %v", err, missing)
	}
	if got, err := again.Open(sealed, nil); err != nil || !bytes.Equal(got, []byte("sealed before the file exists")) {
		t.Fatalf("the written key does not open what was sealed before: %q, %v", got, err)
	}
	if err := k.WriteKeyFile(path); err != nil {
		t.Fatalf("WriteKeyFile of the same key again: %v", err)
	}
}

// TestWriteKeyFileRefusesAnotherKey: when another process created the key
// file between reading and writing, writing ours would leave values
// sealed with two keys; WriteKeyFile keeps the file and says so.
func TestWriteKeyFileRefusesAnotherKey(t *testing.T) {
	path := filepath.Join(t.TempDir(), "applinks.key")
	ours, _, err := secret.ReadKeyFile(path)
	if err != nil {
		t.Fatal(err)
	}
	theirs, _, err := secret.ReadKeyFile(path)
	if err != nil {
		t.Fatal(err)
	}
	if err := theirs.WriteKeyFile(path); err != nil {
		t.Fatal(err)
	}
	before, _ := os.ReadFile(path)
	if err := ours.WriteKeyFile(path); !errors.Is(err, secret.ErrKeyFileChanged) {
		t.Fatalf("WriteKeyFile over another key = %v, want ErrKeyFileChanged", err)
	}
	if after, _ := os.ReadFile(path); !bytes.Equal(before, after) {
		t.Fatal("WriteKeyFile replaced another process's key file")
	}
}
