# openssl: the alpine/openssl contract (sh and openssl; entrypoint openssl)
# for the cert-generator Job's generate step.
TAG=3.0-bookworm
PACKAGES="openssl"
OCIPACK=(-entrypoint '["openssl"]' -cmd '["help"]')
