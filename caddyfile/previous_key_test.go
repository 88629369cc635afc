package caddyfile_test

import "testing"

const (
	keyA = "the passphrase the data was sealed with, 32+ characters"
	keyB = "the new passphrase of the rotation, also 32+ characters"
)

// TestPreviousKeysRefusedAtTheirLine: a previous key that is the current
// one (a rotation that rotates nothing: the old value left in secret_key,
// which would make the gateway take the old key for the new one), a
// previous key given twice, or one too short to be a secret_key is
// refused at its line, whichever of secret_key and previous_secret_key
// comes first.
func TestPreviousKeysRefusedAtTheirLine(t *testing.T) {
	for _, tc := range []struct {
		name, body, want string
		line             int
	}{
		{"previous equal to secret_key", "\t\tsecret_key \"" + keyA + "\"\n\t\tprevious_secret_key \"" + keyA + "\"\n", "previous_secret_key is the secret_key in use", 4},
		{"secret_key equal to a previous one", "\t\tprevious_secret_key \"" + keyA + "\"\n\t\tsecret_key \"" + keyA + "\"\n", "secret_key is also a previous_secret_key", 4},
		{"previous placeholder equal to secret_key", "\t\tsecret_key {env.K}\n\t\tprevious_secret_key {env.K}\n", "previous_secret_key is the secret_key in use", 4},
		{"previous given twice", "\t\tsecret_key \"" + keyB + "\"\n\t\tprevious_secret_key \"" + keyA + "\"\n\t\tprevious_secret_key \"" + keyA + "\"\n", "previous_secret_key is given twice", 5},
		{"previous too short", "\t\tprevious_secret_key tooshort\n", "previous_secret_key is 8 characters long", 3},
		{"previous without a value", "\t\tprevious_secret_key\n", "wrong argument count", 3},
		{"previous key file twice", "\t\tprevious_key_file /etc/old.key\n\t\tprevious_key_file /etc/old.key\n", "previous_key_file /etc/old.key is given twice", 4},
		{"previous key file with two paths", "\t\tprevious_key_file /a /b\n", "wrong argument count", 3},
	} {
		t.Run(tc.name, func(t *testing.T) {
			assertAt(t, adaptErr(tc.body), tc.want, tc.line)
		})
	}
}
