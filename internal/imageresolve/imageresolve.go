// Package imageresolve asks OCI registries which digest an image tag
// points to. It is the only part of dpps-render that talks to a network,
// and only "dpps-render images lock" uses it.
package imageresolve

import (
	"context"
	"errors"
	"fmt"
	"net/http"
	"strings"
	"time"

	"github.com/google/go-containerregistry/pkg/authn"
	"github.com/google/go-containerregistry/pkg/name"
	"github.com/google/go-containerregistry/pkg/v1/remote"
	"github.com/google/go-containerregistry/pkg/v1/remote/transport"

	"github.com/ctao/dpps-deploy/internal/version"
)

// Options configure the registry requests.
type Options struct {
	// Insecure lists the registries ("host" or "host:port") reached over
	// plain HTTP. Loopback and private addresses are reached over HTTP
	// anyway, as docker does.
	Insecure []string
	// Keychain supplies credentials (default: authn.DefaultKeychain, the
	// docker config and its credential helpers).
	Keychain authn.Keychain
	// Timeout bounds the requests of one image (default 30 s).
	Timeout time.Duration
	// Transport replaces the HTTP transport (tests).
	Transport http.RoundTripper
}

// Error is an image that could not be resolved.
type Error struct {
	Image    string
	Registry string
	// Answer is what the registry answered, or why it could not be asked.
	Answer string
}

func (e *Error) Error() string {
	return fmt.Sprintf("image %q: registry %s answered: %s", e.Image, e.Registry, e.Answer)
}

// Resolver resolves image references to digests.
type Resolver struct {
	opts Options
	// down remembers a registry that could not be reached, so that its
	// other images fail at once instead of each waiting for the retries.
	down map[string]string
}

// New returns a resolver.
func New(opts Options) *Resolver {
	if opts.Keychain == nil {
		opts.Keychain = authn.DefaultKeychain
	}
	if opts.Timeout == 0 {
		opts.Timeout = 30 * time.Second
	}
	return &Resolver{opts: opts, down: map[string]string{}}
}

// Parse parses a reference as Resolve would ask for it: a registry listed
// in Options.Insecure is reached over HTTP.
func (r *Resolver) Parse(ref string) (name.Reference, error) {
	parsed, err := name.ParseReference(ref)
	if err != nil {
		return nil, err
	}
	for _, h := range r.opts.Insecure {
		if strings.EqualFold(h, parsed.Context().RegistryStr()) || strings.EqualFold(h, parsed.Context().Registry.Name()) {
			return name.ParseReference(ref, name.Insecure)
		}
	}
	return parsed, nil
}

// Resolve returns the digest ref's tag points to now ("sha256:..."). A
// reference that already carries a digest is asked for by that digest, so
// an image that is gone is reported too.
func (r *Resolver) Resolve(ctx context.Context, ref string) (string, error) {
	parsed, err := r.Parse(ref)
	if err != nil {
		return "", &Error{Image: ref, Registry: "(none)", Answer: fmt.Sprintf("not an image reference: %v", err)}
	}
	reg := parsed.Context().RegistryStr()
	if why, ok := r.down[reg]; ok {
		return "", &Error{Image: ref, Registry: reg, Answer: why}
	}
	ctx, cancel := context.WithTimeout(ctx, r.opts.Timeout)
	defer cancel()
	opts := []remote.Option{
		remote.WithContext(ctx),
		remote.WithAuthFromKeychain(r.opts.Keychain),
		remote.WithUserAgent("dpps-render/" + version.Version),
	}
	if r.opts.Transport != nil {
		opts = append(opts, remote.WithTransport(r.opts.Transport))
	}
	desc, err := remote.Head(parsed, opts...)
	if err == nil {
		return desc.Digest.String(), nil
	}
	// A HEAD answer has no body to explain itself, and some registries
	// do not answer HEAD for manifests: ask with GET, as docker does.
	full, gerr := remote.Get(parsed, opts...)
	if gerr == nil {
		return full.Digest.String(), nil
	}
	var terr *transport.Error
	answer := oneLine(gerr.Error())
	if !errors.As(gerr, &terr) {
		// No HTTP answer at all: the registry is unreachable.
		r.down[reg] = answer
	}
	return "", &Error{Image: ref, Registry: reg, Answer: answer}
}

// oneLine keeps a message on one line.
func oneLine(s string) string {
	return strings.Join(strings.Fields(s), " ")
}
