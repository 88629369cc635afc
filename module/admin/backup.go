package admin

import (
	"errors"
	"net/http"

	"go.uber.org/zap"

	"github.com/caddyserver/caddy/v2"

	"github.com/applinks/caddy-applinks/module/applinks"
)

// BackupStatusTrailer is the HTTP trailer of a backup answer: "complete"
// once the whole backup was written, so that a client can tell a backup
// cut short (the status line was sent before the first byte).
const BackupStatusTrailer = "Applinks-Backup-Status"

// serveBackup streams a consistent backup of the store (GET
// /applinks/backup) while the gateway keeps serving; 501 for a storage
// that is backed up with its database's tools.
func (a *API) serveBackup(w http.ResponseWriter, r *http.Request) error {
	app, err := theApp()
	if err != nil {
		return err
	}
	if r.Method != http.MethodGet {
		return methodNotAllowed(w, "GET")
	}
	w.Header().Set("Content-Type", "application/octet-stream")
	w.Header().Set("Content-Disposition", `attachment; filename="applinks.backup"`)
	w.Header().Set("Cache-Control", "no-store")
	w.Header().Set("Trailer", BackupStatusTrailer)
	cw := &countingWriter{w: w}
	err = app.Backup(r.Context(), cw)
	if errors.Is(err, applinks.ErrNoOnlineBackup) {
		w.Header().Del("Trailer")
		w.Header().Del("Content-Disposition")
		return caddy.APIError{HTTPStatus: http.StatusNotImplemented, Err: err}
	}
	if err != nil {
		if cw.n == 0 {
			w.Header().Del("Trailer")
			w.Header().Del("Content-Disposition")
			return internal(err)
		}
		// Too late for a status: the missing trailer tells the client.
		app.Logger().Error("backup cut short", zap.Int64("bytes", cw.n), zap.Error(err))
		return nil
	}
	w.Header().Set(BackupStatusTrailer, "complete")
	app.Audit().Info("store backed up", zap.Int64("bytes", cw.n), zap.String("by", actor))
	return nil
}

// countingWriter counts what it writes to w.
type countingWriter struct {
	w http.ResponseWriter
	n int64
}

// Write writes p to the answer.
func (c *countingWriter) Write(p []byte) (int, error) {
	n, err := c.w.Write(p)
	c.n += int64(n)
	return n, err
}
