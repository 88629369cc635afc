package admin

import (
	"fmt"
	"net/http"
	"strconv"
	"time"

	"github.com/spf13/cobra"

	"github.com/applinks/caddy-applinks/module/applinks"
)

// atRestPoll is how often `keys at-rest --wait` asks again.
const atRestPoll = time.Second

// atRestStatus prints the at-rest key rotation's status; with --wait it
// first polls until the re-seal is done.
func atRestStatus(c *cobra.Command, cl *client, out output, _ []string) error {
	wait, _ := c.Flags().GetBool("wait")
	timeout, _ := c.Flags().GetDuration("timeout")
	var s applinks.AtRestStatus
	if err := cl.do(http.MethodGet, "/applinks/keys/at-rest", nil, &s); err != nil {
		return err
	}
	if wait && s.PreviousKeys > 0 {
		deadline := time.Now().Add(timeout)
		progress := output{w: c.ErrOrStderr()}
		last := -1
		for !s.Done {
			if left := previousLeft(s); left != last {
				last = left
				if err := progress.line("Re-sealing: %d stored values still sealed with a previous key.", left); err != nil {
					return err
				}
			}
			if timeout > 0 && time.Now().After(deadline) {
				_ = printAtRest(out, s)
				return fmt.Errorf("the re-seal is not done after %s", timeout)
			}
			time.Sleep(atRestPoll)
			if err := cl.do(http.MethodGet, "/applinks/keys/at-rest", nil, &s); err != nil {
				return err
			}
		}
	}
	return printAtRest(out, s)
}

// previousLeft is how many stored values the status counts as sealed
// with a previous key.
func previousLeft(s applinks.AtRestStatus) int {
	n := 0
	for _, r := range s.Records {
		n += r.Previous
	}
	return n
}

func printAtRest(out output, s applinks.AtRestStatus) error {
	if out.json {
		return out.document(s)
	}
	state := "idle"
	switch {
	case s.Running:
		state = "re-sealing"
	case s.Waiting:
		state = "waiting for another gateway's pass"
	case s.Done:
		state = "done"
	}
	if err := out.fields(
		[2]string{"Previous keys", strconv.Itoa(s.PreviousKeys)},
		[2]string{"Rotation began", when(s.RekeyedAt)},
		[2]string{"Re-seal", state},
		[2]string{"Last complete pass", when(s.CheckedAt)},
		[2]string{"Last error", s.Error},
	); err != nil {
		return err
	}
	rows := [][]string{}
	for _, r := range s.Records {
		rows = append(rows, []string{r.Kind, strconv.Itoa(r.Current), strconv.Itoa(r.Previous), strconv.Itoa(r.Unreadable)})
	}
	if err := out.line(""); err != nil {
		return err
	}
	if err := out.table([]string{"KIND", "CURRENT KEY", "PREVIOUS KEY", "UNREADABLE"}, rows); err != nil {
		return err
	}
	for _, sl := range s.ShortLived {
		if sl.NeedsPreviousUntil.IsZero() {
			continue
		}
		if err := out.line("%s (not re-sealed, they live %s): need the previous key until %s", sl.Kind, sl.TTL, when(sl.NeedsPreviousUntil)); err != nil {
			return err
		}
	}
	if err := out.line(""); err != nil {
		return err
	}
	return out.line("%s", s.Statement)
}
