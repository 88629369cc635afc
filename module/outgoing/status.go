package outgoing

// StatusLabel is a connection status as pages show it to people: "" (no
// connection) is "Not connected", VALID "Connected", RECOVERABLE
// "Retrying" (refresh failed for a temporary reason) and UNRECOVERABLE
// "Must reconnect" (the provider refused the refresh token).
func StatusLabel(status string) string {
	switch status {
	case "":
		return "Not connected"
	case StatusValid:
		return "Connected"
	case StatusRecoverable:
		return "Retrying"
	case StatusUnrecoverable:
		return "Must reconnect"
	}
	return status
}
