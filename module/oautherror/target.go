package oautherror

// InvalidTarget is the RFC 8707 §2 error for a resource parameter that
// names no resource this server protects, or not one the grant allows.
const InvalidTarget = "invalid_target"
