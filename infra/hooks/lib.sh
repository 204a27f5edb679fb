# Shared by the hooks. Sourced, not run.
#
# Under azd (first argument `azd`) values are kept in the azd environment (`azd env set`), which azd passes to the
# next provision. Run by hand (first argument `env`), each value is printed as an `export` line for the caller's
# shell to evaluate; messages go to stderr, so `eval "$(sh infra/hooks/preprovision.sh env)"` keeps only the values.
MODE="${1:-env}"

say() { printf '%s\n' "$*" >&2; }
fail() {
  say "error: $*"
  exit 1
}

# keep NAME VALUE: make the value available to this script and to the next provision.
keep() {
  export "$1=$2"
  if [ "$MODE" = azd ]; then
    azd env set "$1" "$2" >/dev/null
  else
    printf "export %s='%s'\n" "$1" "$2"
  fi
}

need() {
  eval "value=\${$1:-}"
  # shellcheck disable=SC2154
  [ -n "$value" ] || fail "$1 is not set. $2"
}
