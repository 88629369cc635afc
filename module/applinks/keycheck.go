package applinks

import (
	"context"
	"crypto/hmac"
	"errors"
	"fmt"
	"time"

	"go.uber.org/zap"

	"github.com/applinks/caddy-applinks/module/secret"
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

// maxRetired bounds how many re-keyed-from keys a key check remembers.
const maxRetired = 8

// keyCheckStep is what open does about the key check once the key is
// kept (see checkKey).
type keyCheckStep int

const (
	// keyCheckDone: the check names the at-rest key.
	keyCheckDone keyCheckStep = iota
	// keyCheckRecord: the store has no check; record one.
	keyCheckRecord
	// keyCheckRekey: the check names a previous key; replace it with the
	// at-rest key's (a rotation begins).
	keyCheckRekey
)

// checkKey makes sure the at-rest key, or a previous key of a rotation,
// is the one st was sealed with, before anything is written to st or
// beside it, and says what is left to do once the key is safely kept. A
// store records a key check when it is first opened with a key
// (keyCheckRecord); later opens compare against it. A store without one
// (new, or from before key checks) passes when the keys open its signing
// keys or it holds none. A check that names a previous key is replaced
// with the at-rest key's (keyCheckRekey, see rekey) before anything is
// sealed with the new key.
func (a *App) checkKey(ctx context.Context, st store.Store) (keyCheckStep, error) {
	kc, err := st.GetKeyCheck(ctx)
	if errors.Is(err, store.ErrNotFound) {
		found, opens, err := signing.OpensStored(ctx, st, a.keys)
		if err != nil {
			return 0, fmt.Errorf("checking at-rest key: %w", err)
		}
		if found && !opens {
			return 0, a.wrongKey("")
		}
		return keyCheckRecord, nil
	}
	if err != nil {
		return 0, fmt.Errorf("checking at-rest key: %w", err)
	}
	return a.compareKeyCheck(kc)
}

// recordKeyCheck stores the key check of the at-rest key, recorded now;
// when another opener stored one first, the key is compared against
// theirs, which is kept (and re-keyed if it names a previous key).
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
	step, err := a.compareKeyCheck(kc)
	if err == nil && step == keyCheckRekey {
		err = a.rekey(ctx, st, now)
	}
	return err
}

// rekey replaces a key check that names a previous key with the at-rest
// key's, recorded now, remembering the previous key's MAC among the
// retired ones: from then on the store is the at-rest key's, and the
// previous key alone is refused with a sentence saying so. The check is
// compared again as it is stored then, so that of gateways starting at
// once one re-keys and the others find it done.
func (a *App) rekey(ctx context.Context, st store.Store, now time.Time) error {
	mac := a.keys.MAC(keyCheckPurpose)
	var from []byte
	_, err := st.UpdateKeyCheck(ctx, func(kc *store.KeyCheck) error {
		step, err := a.compareKeyCheck(*kc)
		if err != nil {
			return err
		}
		if step != keyCheckRekey {
			return secret.ErrCurrent
		}
		from = kc.MAC
		retired := append([][]byte{kc.MAC}, kc.Retired...)
		*kc = store.KeyCheck{Kind: a.keyKind(), MAC: mac, CreatedAt: now.UTC(), Retired: retired[:min(len(retired), maxRetired)]}
		return nil
	})
	switch {
	case errors.Is(err, secret.ErrCurrent):
		return nil
	case errors.Is(err, ErrWrongKey):
		return err
	case err != nil:
		return fmt.Errorf("re-keying the at-rest key check: %w", err)
	}
	if from != nil {
		a.logger.Info("at-rest key rotation began: the store is sealed with the current key from now on, and what a previous key sealed is re-sealed in the background",
			zap.String("store", a.backend.Location()), zap.String("key", a.keyKind()))
	}
	return nil
}

// compareKeyCheck tells whether kc names the at-rest key (keyCheckDone)
// or a previous key of a rotation (keyCheckRekey), and fails with
// ErrWrongKey otherwise: a store sealed with none of them, or re-keyed
// away from the at-rest key.
func (a *App) compareKeyCheck(kc store.KeyCheck) (keyCheckStep, error) {
	mac := a.keys.MAC(keyCheckPurpose)
	retiredCurrent := false
	for _, r := range kc.Retired {
		retiredCurrent = retiredCurrent || hmac.Equal(r, mac)
	}
	switch {
	case hmac.Equal(kc.MAC, mac):
		return keyCheckDone, nil
	case retiredCurrent:
		// The store was re-keyed from this key to another; going back
		// would seal records that the other key's gateways cannot open.
		return 0, a.rekeyedAway(kc)
	}
	for _, p := range a.keys.Previous() {
		if hmac.Equal(kc.MAC, p.MAC(keyCheckPurpose)) {
			return keyCheckRekey, nil
		}
	}
	return 0, a.wrongKey(kc.Kind)
}

// keyKind says how the at-rest key is given.
func (a *App) keyKind() string {
	if a.SecretKey != "" {
		return store.KeyKindPassphrase
	}
	return store.KeyKindFile
}

// rotateHint ends the wrong-key sentences: how to move the data to the
// key configured now instead of going back.
const rotateHint = "; or, to rotate to the key configured now, keep the key that sealed the data as previous_secret_key (or previous_key_file) beside it"

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
	if len(a.keys.Previous()) > 0 {
		msg += " (none of the previous keys configured sealed it either)"
	}
	return fmt.Errorf("%w: %s%s", ErrWrongKey, msg, rotateHint)
}

// rekeyedAway returns ErrWrongKey wrapped in one sentence saying that the
// store was re-keyed from the key configured now to the one kc names, and
// that it must be configured.
func (a *App) rekeyedAway(kc store.KeyCheck) error {
	newKey := "it is a secret_key: set secret_key to it"
	switch path := a.backend.KeyFile(); {
	case kc.Kind != store.KeyKindFile:
	case path == "":
		newKey = "it is a key file: give it as the storage's key_file"
	default:
		newKey = fmt.Sprintf("it is the key file %s: remove secret_key, restoring that file from the backup made after the rotation if it is not the one there", path)
	}
	return fmt.Errorf("%w: the data directory %s was re-keyed on %s from the at-rest key configured now to another one, and is sealed with that key now; configure the new key (%s), and keep this one as previous_secret_key (or previous_key_file) until `caddy applinks keys at-rest` says it can go",
		ErrWrongKey, a.backend.Location(), kc.CreatedAt.UTC().Format("2006-01-02 15:04 UTC"), newKey)
}
