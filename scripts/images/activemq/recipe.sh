# activemq: the apache/activemq-classic contract as
# charts/dpps/charts/fts uses it (templates/broker.yaml): uid 1000, env
# ACTIVEMQ_CONNECTION_USER/PASSWORD (the only login accepted),
# ACTIVEMQ_OPTS_MEMORY, data in /opt/apache-activemq/data, STOMP on 61613
# and OpenWire on 61616, conf/ written at start. Debian's ActiveMQ 5.17 on
# its headless JRE 17 (the chart's default tag is 6.1); Debian packages no
# web console, so port 8161 is not served.
TAG=5.17-bookworm
PACKAGES="activemq default-jre-headless"
OCIPACK=(
	-user 1000:1000
	-workdir /opt/apache-activemq
	-env ACTIVEMQ_HOME=/opt/apache-activemq
	-port 61613 -port 61616
	-entrypoint '["/opt/apache-activemq/entrypoint.sh"]'
)

setup() {
	in_root usermod -u 1000 activemq
	in_root groupmod -g 1000 activemq
	rm -rf "$root/var/lib/activemq" "$root/etc/activemq/instances-enabled"/*
	local a="$root/opt/apache-activemq"
	mkdir -p "$a/conf" "$a/data"
	ln -s /usr/share/activemq/bin "$a/bin"
	install -m 0755 "$dir/entrypoint.sh" "$a/entrypoint.sh"
	chown -R 1000:1000 "$a/conf" "$a/data"
}
