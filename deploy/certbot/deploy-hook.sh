#!/bin/sh
# certbot deploy hook: let Portico read the certificates and keys certbot
# writes, without making any private key readable to anyone else.
#
# certbot creates live/ and archive/ mode 0700 and every privkey mode 0600,
# all owned by root, so Portico (a non-root user) cannot read them. This
# hook hands live/ and archive/ to the group PORTICO_GID (default 10001, the
# portico group of Portico's container image) with read access for that
# group only: folders become 0750 and keys 0640, owner root, group portico,
# and others get nothing. certbot keeps a key's group and group bits when
# it renews it, and the hook runs again after every issuance and renewal
# anyway; running it twice changes nothing.
#
# certbot runs deploy hooks with RENEWED_LINEAGE=<config>/live/<name>; the
# configuration folder is two levels up. An argument names it instead.
#
#   certbot certonly ... --deploy-hook 'sh /path/to/deploy-hook.sh'
#   PORTICO_GID=10001 sh deploy-hook.sh /etc/letsencrypt
set -eu

gid=${PORTICO_GID:-10001}
if [ $# -gt 0 ]; then
	config=$1
elif [ -n "${RENEWED_LINEAGE:-}" ]; then
	config=$(dirname "$(dirname "$RENEWED_LINEAGE")")
else
	config=/etc/letsencrypt
fi

for dir in "$config/live" "$config/archive"; do
	[ -d "$dir" ] || continue
	chgrp -R "$gid" "$dir"
	chmod -R g+rX,g-w,o-rwx "$dir"
done
