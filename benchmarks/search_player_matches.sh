#!/usr/bin/env bash
# The search player's strength: the matches behind the figures of docs/arena.md (the search players).
#
#   bash benchmarks/search_player_matches.sh OUT_DIR [GAMES [NAME...]]
#
# NAMEs pick matches from the list below (default: all, in this order).
# One match at a time, 2 workers, 3-move ACF openings with colours swapped, seed 0. Each result
# is written as JSON to OUT_DIR/NAME.json, with the machine's load before and after in
# OUT_DIR/NAME.load (the time limits are wall-clock, so the load matters).
set -euo pipefail
out=${1:?usage: search_player_matches.sh OUT_DIR [GAMES [NAME...]]}
games=${2:-200}
shift $(($# < 2 ? $# : 2))
wanted=" ${*:-equal20 ms100_vs_ab8 depth4_ladder ms20_ladder equal100} "
mkdir -p "$out"
kingme=${KINGME:-.venv/bin/kingme}

run() {
    local name=$1
    shift
    [[ $wanted == *" $name "* ]] || return 0
    uptime >"$out/$name.load"
    local t0=$SECONDS
    "$kingme" "$@" --json --no-progress --workers 2 >"$out/$name.json"
    echo "wall_s $((SECONDS - t0))" >>"$out/$name.load"
    uptime >>"$out/$name.load"
    echo "$name done in $((SECONDS - t0)) s: $*"
}

# equal time, 20 ms a move for both sides
run equal20 arena search:default::20 alphabeta:40:20 --games "$games"
# at most 100 ms a move against the top rung
run ms100_vs_ab8 arena search:default::100 alphabeta:8 --games "$games"
# fixed depth against the top of the ladder, and its Elo from those games
run depth4_ladder ladder search:default:4 --rungs alphabeta:4,alphabeta:6,alphabeta:8 --games "$games"
# 20 ms a move against the ladder's top rungs, and its Elo
run ms20_ladder ladder search:default::20 --rungs alphabeta:4,alphabeta:6,alphabeta:8 --games "$games"
# equal time, 100 ms a move for both sides
run equal100 arena search:default::100 alphabeta:40:100 --games "$games"
