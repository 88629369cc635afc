package secret_test

import (
	"bytes"
	"errors"
	"testing"

	"github.com/applinks/caddy-applinks/module/secret"
)

// rotation returns the keys of a rotation from old to the current key
// made from passphrase+" (new)".
func rotation(t *testing.T) (old, rotated *secret.Keys) {
	t.Helper()
	old = mustPassphrase(t, passphrase)
	rotated, err := mustPassphrase(t, passphrase+" (new)").WithPrevious(old)
	if err != nil {
		t.Fatalf("WithPrevious: %v", err)
	}
	return old, rotated
}

// TestRotationSealsWithTheCurrentKeyOnly: during a rotation every value
// is sealed with the new key (the old one alone cannot open it) and
// values the old key sealed still open, so nothing stops working while
// they are re-sealed.
func TestRotationSealsWithTheCurrentKeyOnly(t *testing.T) {
	old, rotated := rotation(t)
	sealedBefore := old.Seal([]byte("sealed before the rotation"), []byte("id"))
	if got, err := rotated.Open(sealedBefore, []byte("id")); err != nil || string(got) != "sealed before the rotation" {
		t.Fatalf("the rotated keys cannot open what the previous key sealed: %q, %v", got, err)
	}
	sealedAfter := rotated.Seal([]byte("sealed during the rotation"), []byte("id"))
	if _, err := old.Open(sealedAfter, []byte("id")); err == nil {
		t.Fatal("the previous key opens what the rotated keys sealed: they sealed with the previous key")
	}
	current := mustPassphrase(t, passphrase+" (new)")
	if got, err := current.Open(sealedAfter, []byte("id")); err != nil || string(got) != "sealed during the rotation" {
		t.Fatalf("the new key alone cannot open what the rotated keys sealed: %q, %v", got, err)
	}
	if _, err := rotated.Open(sealedBefore, []byte("other id")); !errors.Is(err, secret.ErrUnreadable) {
		t.Fatalf("a previous key's value opened for other additional data: %v", err)
	}
	if !bytes.Equal(rotated.MAC("p", []byte("d")), current.MAC("p", []byte("d"))) {
		t.Fatal("the rotated keys MAC with another key than the new one")
	}
	if len(rotated.Previous()) != 1 || len(current.Previous()) != 0 {
		t.Fatalf("Previous: %d keys during the rotation, %d outside it", len(rotated.Previous()), len(current.Previous()))
	}
}

// TestResealOutcomes: Reseal leaves a value of the current key as it is,
// seals a previous key's value anew so that the new key alone opens it,
// and leaves an unreadable one untouched rather than losing it.
func TestResealOutcomes(t *testing.T) {
	old, rotated := rotation(t)
	stranger := mustPassphrase(t, passphrase+" (a stranger's)")
	add := []byte("link-1")
	ofCurrent := rotated.Seal([]byte("v"), add)
	ofPrevious := old.Seal([]byte("v"), add)
	ofStranger := stranger.Seal([]byte("v"), add)

	if got, o := rotated.Reseal(ofCurrent, add); o != secret.Current || !bytes.Equal(got, ofCurrent) {
		t.Errorf("Reseal of a current value: outcome %d, changed %v", o, !bytes.Equal(got, ofCurrent))
	}
	got, o := rotated.Reseal(ofPrevious, add)
	if o != secret.Resealed {
		t.Fatalf("Reseal of a previous key's value: outcome %d, want Resealed", o)
	}
	if plain, err := mustPassphrase(t, passphrase+" (new)").Open(got, add); err != nil || string(plain) != "v" {
		t.Fatalf("the re-sealed value does not open with the new key alone: %q, %v", plain, err)
	}
	if _, o := rotated.Reseal(got, add); o != secret.Current {
		t.Errorf("a re-sealed value is not current: outcome %d", o)
	}
	for name, v := range map[string][]byte{"another key's": ofStranger, "other additional data's": old.Seal([]byte("v"), []byte("link-2")), "truncated": ofPrevious[:5], "empty": nil} {
		if got, o := rotated.Reseal(v, add); o != secret.Unreadable || !bytes.Equal(got, v) {
			t.Errorf("Reseal of %s value: outcome %d, changed %v; want Unreadable and unchanged", name, o, !bytes.Equal(got, v))
		}
	}
}

// TestCheckMACAcceptsPreviousKeysDuringARotation: a MAC made before the
// rotation (an anti-CSRF token in an open page, a device cookie) passes
// while its key is configured as a previous key, and no longer once it
// is removed; a MAC of other data or of a stranger's key never passes.
func TestCheckMACAcceptsPreviousKeysDuringARotation(t *testing.T) {
	old, rotated := rotation(t)
	data := []byte("session hash")
	before := old.MAC("applinks csrf session", data)
	if !rotated.CheckMAC(before, "applinks csrf session", data) {
		t.Fatal("a MAC of the previous key is refused during the rotation")
	}
	if !rotated.CheckMAC(rotated.MAC("applinks csrf session", data), "applinks csrf session", data) {
		t.Fatal("a MAC of the current key is refused")
	}
	if mustPassphrase(t, passphrase+" (new)").CheckMAC(before, "applinks csrf session", data) {
		t.Fatal("a MAC of a removed previous key passes")
	}
	for name, c := range map[string]struct {
		mac     []byte
		purpose string
	}{
		"other purpose":  {before, "applinks csrf login"},
		"other data":     {old.MAC("applinks csrf session", []byte("other")), "applinks csrf session"},
		"stranger's key": {mustPassphrase(t, passphrase+"!").MAC("applinks csrf session", data), "applinks csrf session"},
		"empty":          {nil, "applinks csrf session"},
		"truncated":      {before[:16], "applinks csrf session"},
	} {
		if rotated.CheckMAC(c.mac, c.purpose, data) {
			t.Errorf("CheckMAC accepted a MAC of %s", name)
		}
	}
}

// TestWithPreviousRefusesTheSameKeyTwice: a previous key equal to the
// current one (a rotation that changes nothing, the old value left in
// secret_key) or given twice is refused.
func TestWithPreviousRefusesTheSameKeyTwice(t *testing.T) {
	k := mustPassphrase(t, passphrase)
	other := mustPassphrase(t, passphrase+" (other)")
	if _, err := k.WithPrevious(mustPassphrase(t, passphrase)); !errors.Is(err, secret.ErrSameKey) {
		t.Errorf("the current key as a previous one: %v, want ErrSameKey", err)
	}
	if _, err := k.WithPrevious(other, mustPassphrase(t, passphrase+" (other)")); !errors.Is(err, secret.ErrSameKey) {
		t.Errorf("one previous key twice: %v, want ErrSameKey", err)
	}
	rotated, err := k.WithPrevious(other)
	if err != nil {
		t.Fatal(err)
	}
	if len(k.Previous()) != 0 {
		t.Fatal("WithPrevious changed the keys it was called on")
	}
	again, err := rotated.WithPrevious(mustPassphrase(t, passphrase+" (third)"))
	if err != nil || len(again.Previous()) != 1 {
		t.Fatalf("WithPrevious on rotated keys: %v, %d previous keys, want the new list alone", err, len(again.Previous()))
	}
}
