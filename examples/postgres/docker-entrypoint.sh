#!/bin/sh
# Initialise a PostgreSQL cluster in $PGDATA on first start, then run the server as postgres.
# Honours the official image's variables: POSTGRES_PASSWORD (required unless
# POSTGRES_HOST_AUTH_METHOD=trust), POSTGRES_USER (default postgres), POSTGRES_DB (default
# $POSTGRES_USER), PGDATA, POSTGRES_INITDB_ARGS, POSTGRES_HOST_AUTH_METHOD (default scram-sha-256),
# and runs /docker-entrypoint-initdb.d/*.sh and *.sql once, after the database is made.
set -eu

# "docker run image -c foo=bar" means "postgres -c foo=bar"
if [ "${1#-}" != "$1" ]; then
	set -- postgres "$@"
fi

if [ "$1" != postgres ]; then
	exec "$@"
fi

if [ "$(id -u)" = 0 ]; then
	# the volume may be new and owned by root: hand it to postgres, then drop privileges
	mkdir -p "$PGDATA" /var/run/postgresql
	chown postgres:postgres "$PGDATA" /var/run/postgresql
	chmod 700 "$PGDATA"
	chmod 3777 /var/run/postgresql
	exec setpriv --reuid=postgres --regid=postgres --init-groups "$0" "$@"
fi

POSTGRES_USER=${POSTGRES_USER:-postgres}
POSTGRES_DB=${POSTGRES_DB:-$POSTGRES_USER}
POSTGRES_HOST_AUTH_METHOD=${POSTGRES_HOST_AUTH_METHOD:-scram-sha-256}
export POSTGRES_USER POSTGRES_DB

log() { echo "entrypoint: $*" >&2; }

run_sql() {
	psql -v ON_ERROR_STOP=1 --no-password --no-psqlrc --username "$POSTGRES_USER" "$@"
}

init_cluster() {
	if [ -z "${POSTGRES_PASSWORD:-}" ] && [ "$POSTGRES_HOST_AUTH_METHOD" != trust ]; then
		log "error: the database is uninitialized and POSTGRES_PASSWORD is not set"
		log "set POSTGRES_PASSWORD (or POSTGRES_HOST_AUTH_METHOD=trust to allow any connection)"
		exit 1
	fi
	pwfile=$(mktemp)
	printf '%s\n' "${POSTGRES_PASSWORD:-}" > "$pwfile"
	log "initialising the cluster in $PGDATA for user $POSTGRES_USER"
	# shellcheck disable=SC2086 # POSTGRES_INITDB_ARGS is a list of words
	initdb -D "$PGDATA" --username="$POSTGRES_USER" --pwfile="$pwfile" \
		--auth-local=trust ${POSTGRES_INITDB_ARGS:-}
	rm -f "$pwfile"
	printf '\nhost all all all %s\n' "$POSTGRES_HOST_AUTH_METHOD" >> "$PGDATA/pg_hba.conf"
	printf "\nlisten_addresses = '*'\n" >> "$PGDATA/postgresql.conf"

	# a server on the socket only, so nobody connects before the set-up is done
	pg_ctl -D "$PGDATA" -o "-c listen_addresses=''" -w start
	if [ "$POSTGRES_DB" != postgres ]; then
		log "creating database $POSTGRES_DB"
		run_sql --dbname postgres --set db="$POSTGRES_DB" <<-'SQL'
			CREATE DATABASE :"db";
		SQL
	fi
	for f in /docker-entrypoint-initdb.d/*; do
		case "$f" in
		*.sh) log "running $f"; . "$f" ;;
		*.sql) log "running $f"; run_sql --dbname "$POSTGRES_DB" -f "$f" ;;
		*.sql.gz) log "running $f"; gunzip -c "$f" | run_sql --dbname "$POSTGRES_DB" ;;
		*) [ -e "$f" ] && log "ignoring $f" ;;
		esac
	done
	pg_ctl -D "$PGDATA" -m fast -w stop
	log "initialisation done"
}

if [ ! -s "$PGDATA/PG_VERSION" ]; then
	init_cluster
fi
exec "$@"
