// Package version is the toolkit's release version, stamped into provenance.
package version

// Version is the release of dpps-render and dpps-schemagen. It is a constant,
// not a build timestamp or VCS hash, so that the same input renders to the
// same bytes on every machine.
const Version = "0.1.0"
