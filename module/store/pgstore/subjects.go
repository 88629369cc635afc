package pgstore

import (
	"context"
	"errors"
	"strconv"

	"github.com/applinks/caddy-applinks/module/store"
)

// subjectColumns are the columns of subjects, in the order of
// subjectDest.
const subjectColumns = "user_id, subject, created_at"

// CreateSubject stores the subject of sub.UserID; store.ErrAlreadyExists
// when the user has one. Of concurrent creations the first to commit
// wins; the others meet its row in the primary key.
func (s *Store) CreateSubject(ctx context.Context, sub store.Subject) error {
	if sub.UserID == "" {
		return errors.New("creating subject: empty user id")
	}
	_, err := s.pool.Exec(ctx, "INSERT INTO subjects ("+subjectColumns+") VALUES ($1, $2, $3)",
		sub.UserID, sub.Subject, sub.CreatedAt)
	if err != nil {
		return failed(err, "creating subject of user "+strconv.Quote(sub.UserID))
	}
	return nil
}

// PutSubject creates or replaces the subject of sub.UserID.
func (s *Store) PutSubject(ctx context.Context, sub store.Subject) error {
	if sub.UserID == "" {
		return errors.New("putting subject: empty user id")
	}
	_, err := s.pool.Exec(ctx, `INSERT INTO subjects (`+subjectColumns+`) VALUES ($1, $2, $3)
		ON CONFLICT (user_id) DO UPDATE SET subject = EXCLUDED.subject, created_at = EXCLUDED.created_at`,
		sub.UserID, sub.Subject, sub.CreatedAt)
	if err != nil {
		return failed(err, "putting subject of user "+strconv.Quote(sub.UserID))
	}
	return nil
}

// GetSubject returns the subject of the user.
func (s *Store) GetSubject(ctx context.Context, userID string) (store.Subject, error) {
	var sub store.Subject
	err := s.pool.QueryRow(ctx, "SELECT "+subjectColumns+" FROM subjects WHERE user_id = $1", userID).
		Scan(subjectDest(&sub)...)
	if err != nil {
		return store.Subject{}, failed(err, "getting subject of user "+strconv.Quote(userID))
	}
	return sub, nil
}

// DeleteSubject removes the subject of the user; a missing one is not an
// error.
func (s *Store) DeleteSubject(ctx context.Context, userID string) error {
	if _, err := s.pool.Exec(ctx, "DELETE FROM subjects WHERE user_id = $1", userID); err != nil {
		return failed(err, "deleting subject of user "+strconv.Quote(userID))
	}
	return nil
}

// subjectDest returns the scan targets of subjectColumns.
func subjectDest(sub *store.Subject) []any {
	return []any{&sub.UserID, &sub.Subject, &sub.CreatedAt}
}
