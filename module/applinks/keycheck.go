package applinks

import (
	"context"
	"crypto/hmac"
	"errors"
	"fmt"
	"time"

	"github.com/applinks/caddy-applinks/module/signing"
	"github.com/applinks/caddy-applinks/module/store"
)

// ErrWrongKey means the at-rest key configured now is not the one the
// store was sealed with; the error wrapping it says which key the store
// wants and how to recover.
var ErrWrongKey = errors.New("wrong at-rest key")

// keyCheckPurpose is the MAC purpose of the key check: the MAC of nothing
// under a key derived for it recognises the key without revealing it.
const keyCheckPurpose = "applinks at-rest key check"

// checkKey makes sure the at-rest key is the one st was sealed with,
// before anything is written to st or beside it. A store records a key
// check when it is first opened with a key (recordKeyCheck); later opens
// compare against it. A store without one (new, or from before key
// checks) passes when the key opens its signing keys or it holds none:
// unchecked is then true and the caller records the check once the key
// is safely kept.
func (a *App) checkKey(ctx context.Context, st store.Store) (unchecked bool, err error) {
	kc, err := st.GetKeyCheck(ctx)
	if errors.Is(err, store.ErrNotFound) {
		found, opens, err := signing.OpensStored(ctx, st, a.keys)
		if err != nil {
			return false, fmt.Errorf("checking at-rest key: %w", err)
		}
		if found && !opens {
			return false, a.wrongKey("")
		}
		return true, nil
	}
	if err != nil {
		return false, fmt.Errorf("checking at-rest key: %w", err)
	}
	return false, a.compareKeyCheck(kc)
}

// recordKeyCheck stores the key check of the at-rest key, recorded now;
// when another opener stored one first, the key is compared against
// theirs, which is kept.
func (a *App) recordKeyCheck(ctx context.Context, st store.Store, now time.Time) error {
	err := st.CreateKeyCheck(ctx, store.KeyCheck{Kind: a.keyKind(), MAC: a.keys.MAC(keyCheckPurpose), CreatedAt: now.UTC()})
	if err == nil {
		return nil
	}
	if !errors.Is(err, store.ErrAlreadyExists) {
		return fmt.Errorf("recording at-rest key check: %w", err)
	}
	kc, err := st.GetKeyCheck(ctx)
	if err != nil {
		return fmt.Errorf("checking at-rest key: %w", err)
	}
	return a.compareKeyCheck(kc)
}

// compareKeyCheck fails with ErrWrongKey unless kc was recorded with the
// at-rest key.
func (a *App) compareKeyCheck(kc store.KeyCheck) error {
	if !hmac.Equal(kc.MAC, a.keys.MAC(keyCheckPurpose)) {
		return a.wrongKey(kc.Kind)
	}
	return nil
}

// keyKind says how the at-rest key is given.
func (a *App) keyKind() string {
	if a.SecretKey != "" {
		return store.KeyKindPassphrase
	}
	return store.KeyKindFile
}

// wrongKey returns ErrWrongKey wrapped in one sentence that names what
// is wrong and how to recover; sealedWith is the kind of key the store
// records, empty when it records none.
func (a *App) wrongKey(sealedWith string) error {
	dir, file := a.backend.Location(), a.backend.KeyFile()
	fileMissing := a.opening.keyFile != ""
	const empty = "or move the data directory aside and start with an empty one (its links, grants, sessions and outgoing tokens are then lost)"
	var msg string
	switch {
	case sealedWith == store.KeyKindPassphrase && a.SecretKey != "":
		msg = fmt.Sprintf("the data directory %s was sealed with a different secret_key than the one configured now; restore the previous secret_key, %s", dir, empty)
	case sealedWith == store.KeyKindPassphrase:
		msg = fmt.Sprintf("the data directory %s was sealed with a secret_key, but no secret_key is configured now (so the key file %s would be used); set the previous secret_key again, %s", dir, file, empty)
	case sealedWith == store.KeyKindFile && a.SecretKey != "":
		msg = fmt.Sprintf("the data directory %s was sealed with the key file %s, but a secret_key is configured now; remove secret_key (and restore %s from the backup of the data directory if it is gone), %s", dir, file, file, empty)
	case sealedWith == store.KeyKindFile && fileMissing:
		msg = fmt.Sprintf("the data directory %s was sealed with the key file %s, which is missing; restore %s from the backup of the data directory, %s", dir, file, file, empty)
	case sealedWith == store.KeyKindFile:
		msg = fmt.Sprintf("the data directory %s was sealed with a different key than the key file %s holds now; restore %s from the backup of the data directory, %s", dir, file, file, empty)
	case a.SecretKey != "":
		msg = fmt.Sprintf("the data directory %s was sealed with a different key than the secret_key configured now; restore the previous secret_key (or remove secret_key if the key file %s sealed it), %s", dir, file, empty)
	default:
		msg = fmt.Sprintf("the data directory %s was sealed with a different key than the key file %s; restore %s from the backup of the data directory (or set the secret_key that sealed it), %s", dir, file, file, empty)
	}
	return fmt.Errorf("%w: %s", ErrWrongKey, msg)
}
