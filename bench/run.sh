#!/usr/bin/env bash
# Portico's load run: Portico, nginx, HAProxy, Caddy and a bare Go crypto/tls
# server (gobare) configured as the same HTTPS front, loaded in one run on
# loopback. Each server is pinned to CPU $SRV_CPU, the load to CPU $CLI_CPU,
# and every figure is also given per server-CPU-second. docs/benchmarks.md
# explains the scenarios and the columns.
#
#   bench/run.sh [-s servers] [-t scenarios] [-r repeats] [-d seconds] [-w seconds]
#                [-c conns] [-k conns] [-n tenants] [-p port] [-o folder] [-q] [-K]
#
#   -s  servers, comma-separated (default portico,nginx,haproxy,caddy,gobare)
#   -t  scenarios (default hs,ka,kar,many,churn):
#         hs     full handshakes, 1 tenant
#         ka     keep-alive requests proxied to a trivial upstream, and the upstream
#                hit directly
#         kar    keep-alive requests answered by the front itself
#         many   full handshakes, 1,000 tenants; start-up time and memory
#         churn  Portico under handshake and under keep-alive load while a second
#                process changes keypairs and tenants
#   -r  repeats of each measurement (default 3)   -d  window, s (default 10)
#   -w  warm-up, s (default 1)                    -c  handshake concurrency (default 16)
#   -k  keep-alive connections (default 16)       -n  tenants for many/churn (default 1000)
#   -p  first port (default 18500)                -o  results folder
#   -q  quick: 1 repeat, 3 s windows, short churn -K  keep the work folder
#
# Environment: SRV_CPU (0), CLI_CPU (1), QUIET_CPU (0.2 cores), QUIET_MAX (20 s),
# PORTICO_BIN (a Portico binary to measure instead of building this tree's).
# Everything binds to 127.0.0.1; every process started here is stopped by PID.
set -uo pipefail

ROOT=$(cd "$(dirname "$0")/.." && pwd)
SERVERS=portico,nginx,haproxy,caddy,gobare
SCENARIOS=hs,ka,kar,many,churn
REPEATS=3 WINDOW=10 WARMUP=1 CONC=16 KA_CONNS=16 TENANTS=1000 BASE_PORT=18500
CHURN_SECONDS=40 CHURN_GAP=4 KEEP=0 OUT=
SRV_CPU=${SRV_CPU:-0} CLI_CPU=${CLI_CPU:-1}
QUIET_CPU=${QUIET_CPU:-0.2} QUIET_MAX=${QUIET_MAX:-20}

usage() { sed -n '2,/^set -uo/p' "$0" | sed '$d; s/^# \{0,1\}//'; exit "$1"; }
while getopts "s:t:r:d:w:c:k:n:p:o:qKh" opt; do
	case $opt in
	s) SERVERS=$OPTARG ;;
	t) SCENARIOS=$OPTARG ;;
	r) REPEATS=$OPTARG ;;
	d) WINDOW=$OPTARG ;;
	w) WARMUP=$OPTARG ;;
	c) CONC=$OPTARG ;;
	k) KA_CONNS=$OPTARG ;;
	n) TENANTS=$OPTARG ;;
	p) BASE_PORT=$OPTARG ;;
	o) OUT=$OPTARG ;;
	q) REPEATS=1 WINDOW=3 CHURN_SECONDS=12 ;;
	K) KEEP=1 ;;
	h) usage 0 ;;
	*) usage 2 ;;
	esac
done
IFS=, read -ra SRVS <<<"$SERVERS"
wants() { [[ ",$SCENARIOS," == *",$1,"* ]]; }

say() { printf '%(%H:%M:%S)T %s\n' -1 "$*" >&2; }
die() { say "error: $*"; exit 1; }

# ------------------------------------------------------------ preconditions
need() { command -v "$1" >/dev/null || die "$1 is missing: $2"; }
need go "install Go 1.26"
need taskset "apt-get install util-linux"
need ss "apt-get install iproute2"
for s in "${SRVS[@]}"; do
	case $s in
	portico | gobare) ;;
	nginx | haproxy | caddy) need "$s" "apt-get install nginx haproxy caddy nghttp2-client" ;;
	*) die "unknown server $s" ;;
	esac
done
if wants ka || wants kar || wants churn; then need h2load "apt-get install nghttp2-client"; fi
((REPEATS >= 1 && WINDOW >= 1)) || die "-r and -d must be at least 1"
(($(nproc) >= 2)) || die "needs 2 CPUs: one for the server, one for the load"
ulimit -n 65536 2>/dev/null || ulimit -n "$(ulimit -Hn)"

WORK=$(mktemp -d -t portico-bench.XXXXXX)
OUT=${OUT:-$WORK/results}
mkdir -p "$OUT" "$WORK/run"
RAW=$OUT/raw.log
: >"$RAW"

declare -A PID=() PORT=()
UPSTREAM_PID= LOAD_PID=

# stop PID: SIGTERM, up to 15 s to exit, then SIGKILL; its descendants too.
stop() {
	local pid=$1 kids i
	[[ -n $pid ]] && kill -0 "$pid" 2>/dev/null || return 0
	kids=$(ps -o pid= --ppid "$pid" 2>/dev/null)
	kill -TERM "$pid" 2>/dev/null
	for ((i = 0; i < 150; i++)); do
		kill -0 "$pid" 2>/dev/null || break
		sleep 0.1
	done
	kill -KILL "$pid" 2>/dev/null
	wait "$pid" 2>/dev/null
	for i in $kids; do kill -KILL "$i" 2>/dev/null; done
	return 0
}
cleanup() {
	local s
	stop "$LOAD_PID"
	for s in "${!PID[@]}"; do stop "${PID[$s]}"; done
	stop "$UPSTREAM_PID"
	if ((KEEP)); then
		say "work folder kept: $WORK"
	elif [[ $OUT == "$WORK"/* ]]; then
		find "$WORK" -mindepth 1 -maxdepth 1 ! -path "$OUT" -exec rm -rf {} +
	else
		rm -rf "$WORK"
	fi
	say "results: $OUT"
}
trap cleanup EXIT
trap 'exit 130' INT TERM

# ------------------------------------------------------------------- build
say "building Portico and the bench tools"
BIN=$WORK/bin
(cd "$ROOT" && go build -o "$BIN/" ./cmd/portico ./bench/cmd/...) || die "go build failed"
if [[ -n ${PORTICO_BIN:-} ]]; then
	cp "$PORTICO_BIN" "$BIN/portico" || die "cannot copy PORTICO_BIN"
	say "measuring the Portico binary $PORTICO_BIN instead of this tree's"
fi


CERTS=$WORK/certs
say "minting throwaway certificates"
"$BIN/benchcerts" -ca "$CERTS/ca" -out "$CERTS/single" -names a.bench.test || die "benchcerts failed"
if wants many || wants churn; then
	"$BIN/benchcerts" -ca "$CERTS/ca" -out "$CERTS/many" -n "$TENANTS" || die "benchcerts failed"
fi
if wants churn; then # a second generation of keypairs for the same names
	"$BIN/benchcerts" -ca "$CERTS/ca" -out "$CERTS/many2" -n "$TENANTS" || die "benchcerts failed"
	"$BIN/benchcerts" -ca "$CERTS/ca" -out "$CERTS/single2" -names a.bench.test || die "benchcerts failed"
fi

i=1
for s in portico nginx haproxy caddy gobare; do PORT[$s]=$((BASE_PORT + i)) && i=$((i + 1)); done
UPSTREAM_PORT=$((BASE_PORT + 10)) CADDY_HTTP_PORT=$((BASE_PORT + 11)) ADMIN_PORT=$((BASE_PORT + 12))
UPSTREAM=http://127.0.0.1:$UPSTREAM_PORT

# Like the peers, Portico runs without an access log, where it has one.
PORTICO_FLAGS=()
"$BIN/portico" serve --help 2>/dev/null | grep -q -- '--\[no-\]access-log\|--access-log' && PORTICO_FLAGS+=(--access-log=false)
# Its admin listener (and the metrics it serves) stays on, as by default, on
# a port of the bench's own.
"$BIN/portico" serve --help 2>/dev/null | grep -q -- '--admin-listen' && PORTICO_FLAGS+=(--admin-listen "127.0.0.1:$ADMIN_PORT")

# ------------------------------------------------------------------ configs
# Each front is configured in one of two modes: "respond" answers
# "Hello, World!" itself; "proxy" sends every request to the upstream.

nginx_conf() { # nginx_conf SET MODE RUN
	local set=$1 mode=$2 run=$3 name
	cat <<-EOF
		worker_processes 1;
		daemon off;
		pid $run/nginx.pid;
		error_log $run/error.log error;
		events { worker_connections 8192; }
		http {
		    access_log off;
		    default_type text/plain;
		    keepalive_requests 1000000;
		    ssl_protocols TLSv1.2 TLSv1.3;
		    server_names_hash_bucket_size 128;
		    server_names_hash_max_size 16384;
		    client_body_temp_path $run/body;
		    proxy_temp_path $run/proxy;
		    fastcgi_temp_path $run/fastcgi;
		    uwsgi_temp_path $run/uwsgi;
		    scgi_temp_path $run/scgi;
		    upstream tiny {
		        server 127.0.0.1:$UPSTREAM_PORT;
		        keepalive 64;
		        keepalive_requests 1000000;
		    }
	EOF
	while read -r name; do
		cat <<-EOF
			    server {
			        listen 127.0.0.1:${PORT[nginx]} ssl;
			        server_name $name;
			        ssl_certificate $CERTS/$set/$name.crt;
			        ssl_certificate_key $CERTS/$set/$name.key;
		EOF
		if [[ $mode == respond ]]; then
			echo '        location / { return 200 "Hello, World!"; }'
		else
			cat <<-'EOF'
				        location / {
				            proxy_pass http://tiny;
				            proxy_http_version 1.1;
				            proxy_set_header Connection "";
				            proxy_set_header Host $host;
				            proxy_set_header X-Forwarded-For $proxy_add_x_forwarded_for;
				            proxy_set_header X-Forwarded-Proto $scheme;
				        }
			EOF
		fi
		echo '    }'
	done <"$CERTS/$set/names.txt"
	echo '}'
}

haproxy_conf() { # haproxy_conf SET MODE RUN
	local set=$1 mode=$2 run=$3 crt=$CERTS/$1/pem
	[[ $(wc -l <"$CERTS/$set/names.txt") == 1 ]] && crt=$CERTS/$set/pem/$(head -1 "$CERTS/$set/names.txt").pem
	cat <<-EOF
		global
		    nbthread 1
		    maxconn 8000
		    pidfile $run/haproxy.pid
		defaults
		    mode http
		    timeout connect 5s
		    timeout client 30s
		    timeout server 30s
		    timeout http-request 10s
		    timeout http-keep-alive 30s
		frontend front
		    bind 127.0.0.1:${PORT[haproxy]} ssl crt $crt alpn h2,http/1.1
	EOF
	if [[ $mode == respond ]]; then
		echo '    http-request return status 200 content-type text/plain string "Hello, World!"'
	else
		cat <<-EOF
			    option forwardfor
			    http-request set-header X-Forwarded-Proto https
			    default_backend tiny
			backend tiny
			    server up 127.0.0.1:$UPSTREAM_PORT
		EOF
	fi
}

caddy_conf() { # caddy_conf SET MODE RUN
	local set=$1 mode=$2 run=$3 name
	cat <<-EOF
		{
		    admin off
		    auto_https off
		    http_port $CADDY_HTTP_PORT
		    https_port ${PORT[caddy]}
		    storage file_system $run/storage
		    servers {
		        protocols h1 h2
		    }
		}
	EOF
	while read -r name; do
		echo "https://$name:${PORT[caddy]} {"
		echo "    bind 127.0.0.1"
		echo "    tls $CERTS/$set/$name.crt $CERTS/$set/$name.key"
		if [[ $mode == respond ]]; then
			echo '    respond "Hello, World!" 200'
		else
			echo "    reverse_proxy 127.0.0.1:$UPSTREAM_PORT"
		fi
		echo "}"
	done <"$CERTS/$set/names.txt"
}

# portico_data SET MODE: a data folder seeded with one tenant per name; in
# proxy mode every tenant has the upstream.
portico_data() {
	local set=$1 mode=$2 dir=$WORK/run/portico-data-$1-$2 up=
	[[ $mode == proxy ]] && up=$UPSTREAM
	if [[ ! -d $dir ]]; then
		"$BIN/seedstore" -data "$dir" -certs "$CERTS/$set" -upstream "$up" >&2 || die "seeding Portico failed"
	fi
	echo "$dir"
}

# ------------------------------------------------------------ start / stop
port_free() { ! ss -ltnH "sport = :$1" | grep -q .; }

# start SERVER SET MODE: starts the server pinned to $SRV_CPU, waits for its
# first good response and records the time that took.
start() {
	local s=$1 set=$2 mode=$3 run=$WORK/run/$1-$2-$3 port=${PORT[$1]} first t0 pid probe body
	mkdir -p "$run"
	first=$(head -1 "$CERTS/$set/names.txt")
	port_free "$port" || { say "port $port is busy; $s not started"; return 1; }
	case $s in
	nginx) nginx_conf "$set" "$mode" "$run" >"$run/nginx.conf" ;;
	haproxy) haproxy_conf "$set" "$mode" "$run" >"$run/haproxy.cfg" ;;
	caddy) caddy_conf "$set" "$mode" "$run" >"$run/Caddyfile" ;;
	portico) local data && data=$(portico_data "$set" "$mode") ;;
	esac

	t0=$(date +%s%N)
	case $s in
	portico)
		taskset -c "$SRV_CPU" "$BIN/portico" --data "$data" serve --listen "127.0.0.1:$port" --http-listen "" \
			"${PORTICO_FLAGS[@]}" >"$run/out.log" 2>&1 &
		pid=$! ;;
	nginx)
		taskset -c "$SRV_CPU" nginx -p "$run" -c "$run/nginx.conf" -e "$run/error.log" >"$run/out.log" 2>&1 &
		pid=$! ;;
	haproxy)
		taskset -c "$SRV_CPU" haproxy -W -f "$run/haproxy.cfg" >"$run/out.log" 2>&1 &
		pid=$! ;;
	caddy)
		HOME=$run XDG_DATA_HOME=$run/data XDG_CONFIG_HOME=$run/config \
			taskset -c "$SRV_CPU" caddy run --config "$run/Caddyfile" --adapter caddyfile >"$run/out.log" 2>&1 &
		pid=$! ;;
	gobare)
		local args=(-addr "127.0.0.1:$port")
		if [[ $set == single ]]; then args+=(-cert "$CERTS/$set/$first.crt" -key "$CERTS/$set/$first.key"); else args+=(-dir "$CERTS/$set"); fi
		[[ $mode == proxy ]] && args+=(-upstream "$UPSTREAM")
		taskset -c "$SRV_CPU" "$BIN/gobare" "${args[@]}" >"$run/out.log" 2>&1 &
		pid=$! ;;
	esac
	PID[$s]=$pid

	# Portico's built-in response names the tenant; every other answer is
	# "Hello, World!", from the server itself or through the upstream.
	body="Hello, World!"
	[[ $s == portico && $mode == respond ]] && body=
	if ! probe=$(taskset -c "$CLI_CPU" "$BIN/hsload" -probe -addr "127.0.0.1:$port" -sni "$first" -body "$body" \
		-t0 "$t0" -probe-timeout 60s 2>"$run/probe.err"); then
		say "$s ($set, $mode) gave no good response: $(tail -1 "$run/probe.err")"
		tail -3 "$run/out.log" >&2
		stop "$pid"
		unset "PID[$s]"
		return 1
	fi
	echo "start $s $set $mode $probe" >>"$RAW"
	say "$s ($set, $mode) up in $(field elapsed_ms "$probe") ms, pid $pid"
}

stop_all() {
	local s
	for s in "${!PID[@]}"; do stop "${PID[$s]}"; done
	PID=()
}

start_upstream() {
	taskset -c "$SRV_CPU" "$BIN/tinyup" -addr "127.0.0.1:$UPSTREAM_PORT" >"$WORK/run/upstream.log" 2>&1 &
	UPSTREAM_PID=$!
	local i
	for ((i = 0; i < 100; i++)); do
		port_free "$UPSTREAM_PORT" || return 0
		sleep 0.05
	done
	die "the upstream did not start"
}

# ----------------------------------------------------------------- helpers
field() { sed -n "s/.* $1=\([^ ]*\).*/\1/p" <<<" $2" | head -1; }

# quiet waits, up to QUIET_MAX s, for the rest of the machine to use less
# than QUIET_CPU cores, so that other work disturbs a window as little as
# possible. It measures anyway after that and says so.
quiet() {
	local i a b busy
	for ((i = 0; i < QUIET_MAX; i++)); do
		a=$(awk '/^cpu /{print $2+$3+$4+$7+$8}' /proc/stat)
		sleep 1
		b=$(awk '/^cpu /{print $2+$3+$4+$7+$8}' /proc/stat)
		busy=$(awk -v a="$a" -v b="$b" 'BEGIN{printf "%.2f", (b-a)/100}')
		awk -v x="$busy" -v q="$QUIET_CPU" 'BEGIN{exit !(x < q)}' && return 0
	done
	say "the machine is still busy ($busy cores in use); measuring anyway"
}

# rotation REP: the active servers, in an order that shifts by one per
# repeat so that slow drifts in the machine's load spread over all servers.
rotation() {
	local rep=$1 n=${#ACTIVE[@]} j
	for ((j = 0; j < n; j++)); do echo "${ACTIVE[$(((j + rep) % n))]}"; done
}

start_all() { # start_all SET MODE: fills ACTIVE
	local s
	ACTIVE=()
	for s in "${SRVS[@]}"; do start "$s" "$1" "$2" && ACTIVE+=("$s"); done
}

memory() { # memory SERVER WHEN
	local m
	m=$("$BIN/procmeter" mem "${PID[$1]}") || return
	echo "mem $1 $2 $m" >>"$RAW"
	say "$1 memory $2: $m"
}

# ---------------------------------------------------------------- load runs
handshakes() { # handshakes SCENARIO SERVER SET REP
	local sc=$1 s=$2 set=$3 rep=$4 body="Hello, World!" line
	[[ $s == portico ]] && body=
	quiet
	line=$(taskset -c "$CLI_CPU" "$BIN/hsload" -addr "127.0.0.1:${PORT[$s]}" -names "$CERTS/$set/names.txt" \
		-c "$CONC" -d "${WINDOW}s" -warmup "${WARMUP}s" -server-pid "${PID[$s]}" -body "$body" \
		-label "$sc/$s/$rep" 2>>"$OUT/hsload-errors.log" | grep '^RESULT')
	echo "$sc $s $rep $line" >>"$RAW"
	say "$sc $s #$rep: $(field hs_per_cpu_s "$line") hs per server-CPU-s, $(field conns_per_s "$line") hs/s," \
		"server CPU $(field server_cpu "$line"), other CPU $(field other_cpu "$line"), errors $(field errors "$line")"
}

# h2load_failed OUTPUT: the requests h2load counted as failed (network
# errors, timeouts and statuses of 400 and more) plus the 3xx it counts as
# successes; every answer here should be a 200.
h2load_failed() {
	local failed redirects
	failed=$(sed -n 's/^requests: .* \([0-9]*\) failed,.*/\1/p' <<<"$1")
	redirects=$(sed -n 's/^status codes: [0-9]* 2xx, \([0-9]*\) 3xx,.*/\1/p' <<<"$1")
	[[ -n $failed && -n $redirects ]] && echo $((failed + redirects))
}

# keepalive SCENARIO TARGET REP: h2load with KA_CONNS keep-alive HTTP/1.1
# connections against a front (over TLS) or the upstream itself (plain
# HTTP), with the CPU of the front and of the upstream, when one runs,
# sampled over h2load's window.
keepalive() {
	local sc=$1 s=$2 rep=$3 url pids meter out cpu line front_cpu
	if [[ $s == upstream ]]; then
		url=$UPSTREAM/ pids=$UPSTREAM_PID
	else
		url=https://a.bench.test:${PORT[$s]}/ pids="${PID[$s]} $UPSTREAM_PID"
	fi
	quiet
	[[ -n $UPSTREAM_PID ]] || pids=${PID[$s]}
	# shellcheck disable=SC2086
	"$BIN/procmeter" cpu -after "$WARMUP.3s" -for "$((WINDOW - 1)).5s" $pids >"$WORK/meter" &
	meter=$!
	out=$(taskset -c "$CLI_CPU" h2load --h1 -t 1 -c "$KA_CONNS" -D "$WINDOW" --warm-up-time "$WARMUP" \
		--connect-to="127.0.0.1:${PORT[$s]:-$UPSTREAM_PORT}" "$url" 2>&1)
	wait "$meter"
	cpu=$(<"$WORK/meter")
	local rps failed
	rps=$(sed -n 's/^finished in [^,]*, \([0-9.]*\) req\/s.*/\1/p' <<<"$out")
	failed=$(h2load_failed "$out")
	if [[ $s == upstream ]]; then
		front_cpu=$(field "cpu_$UPSTREAM_PID" "$cpu")
		line="req_per_s=$rps front_cpu=$front_cpu upstream_cpu=$front_cpu"
	else
		front_cpu=$(field "cpu_${PID[$s]}" "$cpu")
		line="req_per_s=$rps front_cpu=$front_cpu upstream_cpu=$(field "cpu_$UPSTREAM_PID" "$cpu")"
	fi
	line="$line machine_cpu=$(field machine_cpu "$cpu") errors=${failed:-unknown}"
	echo "$sc $s $rep KA $line" >>"$RAW"
	[[ -n $rps ]] || echo "$out" >>"$OUT/h2load-errors.log"
	say "$sc $s #$rep: $rps req/s, front CPU $front_cpu, errors ${failed:-unknown}"
}

# churn_handshakes: Portico under a handshake load over every tenant while, every
# CHURN_GAP s, a second process re-imports one tenant's keypair with a new
# certificate, updates a tenant, and adds or deletes one. Every change goes
# through the real CLI, and the time until new handshakes see the new
# certificate is measured.
churn_handshakes() {
	local data names=$CERTS/many/names.txt line k name t0 v extra= result
	data=$(portico_data many respond)
	quiet
	taskset -c "$CLI_CPU" "$BIN/hsload" -addr "127.0.0.1:${PORT[portico]}" -names "$names" -c "$CONC" \
		-d "$((CHURN_SECONDS - 2))s" -warmup 2s -timeline 1s -server-pid "${PID[portico]}" -body "" \
		-label churn/portico >"$WORK/churn.out" 2>>"$OUT/hsload-errors.log" &
	LOAD_PID=$!
	sleep 3
	for ((k = 1; k * CHURN_GAP < CHURN_SECONDS - 4; k++)); do
		name=$(sed -n "${k}p" "$names")
		t0=$(date +%s%N)
		taskset -c "$CLI_CPU" "$BIN/portico" --data "$data" import-certificate --name "$name" \
			--certificate "$CERTS/many2/$name.crt" --private-key "$CERTS/many2/$name.key" >>"$OUT/churn-cli.log" 2>&1 ||
			say "churn: import of $name failed"
		v=$(taskset -c "$CLI_CPU" "$BIN/hsload" -probe -addr "127.0.0.1:${PORT[portico]}" -sni "$name" -body "" \
			-leaf "$CERTS/many2/$name.crt" -t0 "$t0" -probe-timeout 10s 2>>"$OUT/churn-cli.log")
		echo "churn portico $k VISIBLE $v" >>"$RAW"
		taskset -c "$CLI_CPU" "$BIN/portico" --data "$data" tenant update "$name" --hsts "$((k))h" \
			>>"$OUT/churn-cli.log" 2>&1 || say "churn: tenant update failed"
		if [[ -z $extra ]]; then
			extra=extra$k.bench.test
			taskset -c "$CLI_CPU" "$BIN/portico" --data "$data" tenant add --domain "$extra" --certificate "$name" \
				>>"$OUT/churn-cli.log" 2>&1 || say "churn: tenant add failed"
		else
			taskset -c "$CLI_CPU" "$BIN/portico" --data "$data" tenant delete "$extra" \
				>>"$OUT/churn-cli.log" 2>&1 || say "churn: tenant delete failed"
			extra=
		fi
		say "churn #$k: $name re-imported, seen by new handshakes after $(field elapsed_ms "$v") ms"
		sleep "$(awk -v t0="$t0" -v g="$CHURN_GAP" -v now="$(date +%s%N)" 'BEGIN{s=g-(now-t0)/1e9; print (s>0)?s:0}')"
	done
	wait "$LOAD_PID"
	LOAD_PID=
	line=$(grep '^RESULT' "$WORK/churn.out")
	echo "churn portico all $line changes=$((k - 1))" >>"$RAW"
	say "churn: $((k - 1)) rounds of changes, $(field ok "$line") handshakes, $(field errors "$line") failed"
}

# churn_keepalive: Portico proxying keep-alive requests to the upstream while,
# every CHURN_GAP s, a second process re-imports the tenant's keypair and
# updates the tenant (which rebuilds its route): no request may fail.
churn_keepalive() {
	local data k out rps failed
	data=$(portico_data single proxy)
	quiet
	taskset -c "$CLI_CPU" h2load --h1 -t 1 -c "$KA_CONNS" -D "$CHURN_SECONDS" --warm-up-time 1 \
		--connect-to="127.0.0.1:${PORT[portico]}" "https://a.bench.test:${PORT[portico]}/" >"$WORK/churn-ka.out" 2>&1 &
	LOAD_PID=$!
	sleep 2
	for ((k = 1; k * CHURN_GAP < CHURN_SECONDS - 2; k++)); do
		local gen=single2
		((k % 2 == 0)) && gen=single
		taskset -c "$CLI_CPU" "$BIN/portico" --data "$data" import-certificate --name a.bench.test \
			--certificate "$CERTS/$gen/a.bench.test.crt" --private-key "$CERTS/$gen/a.bench.test.key" \
			>>"$OUT/churn-cli.log" 2>&1 || say "churn: import failed"
		taskset -c "$CLI_CPU" "$BIN/portico" --data "$data" tenant update a.bench.test --hsts "${k}h" \
			>>"$OUT/churn-cli.log" 2>&1 || say "churn: tenant update failed"
		sleep "$CHURN_GAP"
	done
	wait "$LOAD_PID"
	LOAD_PID=
	out=$(<"$WORK/churn-ka.out")
	rps=$(sed -n 's/^finished in [^,]*, \([0-9.]*\) req\/s.*/\1/p' <<<"$out")
	failed=$(h2load_failed "$out")
	echo "churnka portico all KA req_per_s=$rps errors=${failed:-unknown} changes=$((k - 1))" >>"$RAW"
	say "churn under keep-alive: $((k - 1)) rounds of changes, $rps req/s, ${failed:-unknown} failed"
}

# ---------------------------------------------------------------- scenarios
declare -a ACTIVE=()
say "work folder $WORK"
{
	echo "# $(date -u '+%Y-%m-%d %H:%M UTC'), $(nproc) CPUs: $(awk -F': ' '/model name/{print $2; exit}' /proc/cpuinfo), kernel $(uname -r)"
	echo "# go $(go env GOVERSION); nginx $(nginx -v 2>&1 | sed 's/.*nginx\///'); haproxy $(haproxy -v 2>/dev/null | awk 'NR==1{print $3}');" \
		"caddy $(caddy version 2>/dev/null | awk '{print $1}'); h2load $(h2load --version 2>/dev/null | awk '{print $2}');" \
		"openssl $(openssl version 2>/dev/null | awk '{print $2}'); portico $(git -C "$ROOT" describe --always --dirty 2>/dev/null)"
	echo "# server CPU $SRV_CPU, load CPU $CLI_CPU; repeats $REPEATS, window ${WINDOW}s after ${WARMUP}s; handshake concurrency $CONC; keep-alive connections $KA_CONNS; tenants $TENANTS"
	echo "config run tenants=$TENANTS repeats=$REPEATS window_s=$WINDOW"
} >>"$RAW"

if wants hs; then
	start_all single respond
	for ((rep = 1; rep <= REPEATS; rep++)); do
		for s in $(rotation "$rep"); do handshakes hs "$s" single "$rep"; done
	done
	stop_all
fi

if wants ka; then
	start_upstream
	start_all single proxy
	ACTIVE+=(upstream)
	for ((rep = 1; rep <= REPEATS; rep++)); do
		for s in $(rotation "$rep"); do keepalive ka "$s" "$rep"; done
	done
	stop_all
	stop "$UPSTREAM_PID"
	UPSTREAM_PID=
fi

if wants kar; then
	start_all single respond
	for ((rep = 1; rep <= REPEATS; rep++)); do
		for s in $(rotation "$rep"); do keepalive kar "$s" "$rep"; done
	done
	stop_all
fi

if wants many; then
	start_all many respond
	for s in "${ACTIVE[@]}"; do memory "$s" idle; done
	for ((rep = 1; rep <= REPEATS; rep++)); do
		for s in $(rotation "$rep"); do handshakes many "$s" many "$rep"; done
	done
	for s in "${ACTIVE[@]}"; do memory "$s" loaded; done
	stop_all
fi

if wants churn && [[ ",$SERVERS," == *,portico,* ]]; then
	SRVS=(portico)
	start_all many respond && churn_handshakes
	stop_all
	start_upstream
	start_all single proxy && churn_keepalive
	stop_all
fi

"$BIN/benchreport" -targets <"$RAW" >"$OUT/table.md" || die "benchreport failed"
cat "$OUT/table.md"
