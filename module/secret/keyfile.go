package secret

import (
	"errors"
	"fmt"
	"io"
	"io/fs"
	"os"
	"runtime"
)

// ErrKeyFileMode means the key file may be read or written by its group or
// by others; the error wrapping it names the file, its mode and the chmod
// that fixes it.
var ErrKeyFileMode = errors.New("key file is accessible by group or others")

// readKeyFile reads the key file at path after checking, on the open file,
// that it is a regular file only its owner may read or write. A missing
// file gives an error matching os.ErrNotExist.
func readKeyFile(path string) ([]byte, error) {
	f, err := os.Open(path)
	if errors.Is(err, os.ErrNotExist) {
		return nil, err
	}
	if err != nil {
		return nil, fmt.Errorf("reading key file: %w", err)
	}
	defer f.Close()
	fi, err := f.Stat()
	if err != nil {
		return nil, fmt.Errorf("reading key file %s: %w", path, err)
	}
	if err := checkKeyFileMode(path, fi.Mode()); err != nil {
		return nil, err
	}
	key, err := io.ReadAll(f)
	if err != nil {
		return nil, fmt.Errorf("reading key file %s: %w", path, err)
	}
	return key, nil
}

// checkKeyFileMode refuses anything but a regular file without group or
// other permission bits. Windows has no such bits; its ACLs are not
// checked.
func checkKeyFileMode(path string, mode fs.FileMode) error {
	if !mode.IsRegular() {
		return fmt.Errorf("reading key file %s: not a regular file (mode %s)", path, mode)
	}
	if runtime.GOOS == "windows" || mode.Perm()&0o077 == 0 {
		return nil
	}
	return fmt.Errorf("key file %s has mode %04o and must not be readable or writable by group or others; run: chmod 600 %s: %w", path, mode.Perm(), path, ErrKeyFileMode)
}
