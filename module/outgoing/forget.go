package outgoing

// ForgetRuntime drops every cached runtime link, so the next Link call
// reads each from the store: another gateway sharing the store changed
// one, or may have.
func (s *Service) ForgetRuntime() {
	s.mu.Lock()
	clear(s.runtime)
	s.forgotten++
	s.mu.Unlock()
}
