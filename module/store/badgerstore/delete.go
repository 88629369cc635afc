package badgerstore

import (
	"errors"

	"github.com/dgraph-io/badger/v4"
)

// deletePresent deletes those of the keys that exist. Badger writes a
// tombstone for every Delete, even of a key it does not have, so a delete
// of something missing would be a write (a commit, log and LSM growth)
// that anyone can trigger by naming what does not exist, such as a forged
// session cookie at sign-out. With only missing keys the transaction has
// nothing to commit and writes nothing.
func deletePresent(txn *badger.Txn, keys ...[]byte) error {
	for _, k := range keys {
		_, err := txn.Get(k)
		if errors.Is(err, badger.ErrKeyNotFound) {
			continue
		}
		if err != nil {
			return err
		}
		if err := txn.Delete(k); err != nil {
			return err
		}
	}
	return nil
}
