#!/usr/bin/env bash
# Fetch Apache Kafka's broker jars (and a Log4j binding for its logs) from Maven Central,
# pinned by pom.xml next to this script, into .apache-kafka/<version>/lib in the checkout
# (git-ignored), or into $TANDEM_APACHE_KAFKA_HOME/lib. Needs Java and Maven; idempotent.
set -euo pipefail
here="$(cd "$(dirname "$0")" && pwd)"
root="$(cd "$here/../.." && pwd)"
version="$(sed -n 's:.*<kafka.version>\(.*\)</kafka.version>.*:\1:p' "$here/pom.xml")"
home="${TANDEM_APACHE_KAFKA_HOME:-$root/.apache-kafka/$version}"
if [ -f "$home/lib/kafka_2.13-$version.jar" ]; then
    echo "Apache Kafka $version: $home/lib"
    exit 0
fi
command -v java >/dev/null || { echo "fetch.sh: Java is needed (Debian: openjdk-17-jre-headless)" >&2; exit 1; }
command -v mvn >/dev/null || { echo "fetch.sh: Maven is needed (Debian: maven)" >&2; exit 1; }
rm -rf "$home.partial"
mvn -B -q -f "$here/pom.xml" \
    org.apache.maven.plugins:maven-dependency-plugin:3.8.1:copy-dependencies \
    -DincludeScope=runtime -DoutputDirectory="$home.partial/lib"
rm -rf "$home" && mv "$home.partial" "$home"  # whole or nothing: a broken fetch is not found
echo "Apache Kafka $version: $home/lib ($(ls "$home/lib" | wc -l) jars)"
