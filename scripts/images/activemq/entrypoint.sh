#!/bin/sh
# ActiveMQ under the apache/activemq-classic configuration contract, as
# charts/dpps runs it: conf/activemq.xml is written on every start with
# OpenWire (61616) and STOMP (61613) and, when ACTIVEMQ_CONNECTION_USER is
# set, simple authentication accepting that user and
# ACTIVEMQ_CONNECTION_PASSWORD only. Then the broker runs in the
# foreground. Arguments, if any, are run instead (a shell for debugging).
set -eu
[ $# -eq 0 ] || exec "$@"

home=${ACTIVEMQ_HOME:-/opt/apache-activemq}
conf=${ACTIVEMQ_CONF:-$home/conf}
data=${ACTIVEMQ_DATA:-$home/data}

# XML attribute value.
x() { printf '%s' "$1" | sed -e 's/&/\&amp;/g' -e 's/</\&lt;/g' -e 's/>/\&gt;/g' -e 's/"/\&quot;/g' -e "s/'/\&apos;/g"; }

auth=""
if [ -n "${ACTIVEMQ_CONNECTION_USER:-}" ]; then
	auth="<plugins><simpleAuthenticationPlugin anonymousAccessAllowed=\"false\"><users>
      <authenticationUser username=\"$(x "$ACTIVEMQ_CONNECTION_USER")\" password=\"$(x "${ACTIVEMQ_CONNECTION_PASSWORD:-}")\" groups=\"users,admins\"/>
    </users></simpleAuthenticationPlugin></plugins>"
fi
umask 077
cat >"$conf/activemq.xml" <<XML
<beans xmlns="http://www.springframework.org/schema/beans"
  xmlns:xsi="http://www.w3.org/2001/XMLSchema-instance"
  xsi:schemaLocation="http://www.springframework.org/schema/beans http://www.springframework.org/schema/beans/spring-beans.xsd
    http://activemq.apache.org/schema/core http://activemq.apache.org/schema/core/activemq-core.xsd">
  <broker xmlns="http://activemq.apache.org/schema/core" brokerName="localhost" dataDirectory="$data" useJmx="false">
    $auth
    <persistenceAdapter><kahaDB directory="$data/kahadb"/></persistenceAdapter>
    <transportConnectors>
      <transportConnector name="openwire" uri="tcp://0.0.0.0:61616?maximumConnections=1000&amp;wireFormat.maxFrameSize=104857600"/>
      <transportConnector name="stomp" uri="stomp://0.0.0.0:61613?maximumConnections=1000&amp;wireFormat.maxFrameSize=104857600"/>
    </transportConnectors>
  </broker>
</beans>
XML
# Debian's ActiveMQ logs through log4j 1.2, found on the classpath (conf/).
cat >"$conf/log4j.properties" <<'PROPS'
log4j.rootLogger=INFO, stdout
log4j.logger.org.springframework=WARN
log4j.logger.org.apache.xbean=WARN
log4j.appender.stdout=org.apache.log4j.ConsoleAppender
log4j.appender.stdout.layout=org.apache.log4j.PatternLayout
log4j.appender.stdout.layout.ConversionPattern=%d | %-5p | %m | %c | %t%n
PROPS

# What Debian's /usr/bin/activemq runs for `console`, without its
# instance layout under /var/lib/activemq.
# shellcheck disable=SC2086
exec java ${ACTIVEMQ_OPTS_MEMORY:--Xms64M -Xmx1G} ${ACTIVEMQ_OPTS:-} \
	-Djava.io.tmpdir=/tmp \
	--add-reads=java.xml=java.logging \
	--add-opens java.base/java.security=ALL-UNNAMED \
	--add-opens java.base/java.net=ALL-UNNAMED \
	--add-opens java.base/java.lang=ALL-UNNAMED \
	--add-opens java.base/java.util=ALL-UNNAMED \
	--add-opens java.naming/javax.naming.spi=ALL-UNNAMED \
	--add-opens java.rmi/sun.rmi.transport.tcp=ALL-UNNAMED \
	--add-opens java.base/java.util.concurrent=ALL-UNNAMED \
	--add-opens java.base/java.util.concurrent.atomic=ALL-UNNAMED \
	-Dactivemq.classpath="$conf" \
	-Dactivemq.home=/usr/share/activemq \
	-Dactivemq.base="$home" \
	-Dactivemq.conf="$conf" \
	-Dactivemq.data="$data" \
	-jar /usr/share/activemq/bin/activemq.jar start "xbean:file:$conf/activemq.xml"
