#!/usr/bin/env bash
# include_graph.sh - the include graph between the top-level folders, taken from a build.
#
# The translation units and their include paths come from <build>/compile_commands.json.
# From each unit the #include directives are followed as the compiler resolves them (a quoted
# name first beside the including file, then the -iquote, -I and -isystem directories in
# order); every include of a project file by a project file is an edge. Directives are read
# whatever the #if around them (stricter than the compiler), headers outside the source tree
# and generated ones in the build tree are left aside. File edges are then lifted to folders.
#
#   scripts/include_graph.sh BUILD            folder -> folder edges with their include counts
#   scripts/include_graph.sh BUILD --files    the file -> file includes between folders
#   scripts/include_graph.sh BUILD --dot FILE also writes a Graphviz file (exceptions dashed,
#                                             includes against the layers red)
#   scripts/include_graph.sh BUILD --check    exit 1, naming each include that goes against
#                                             scripts/layers.txt (the CTest "layering")
# The picture in docs/ (Debian package graphviz):
#   scripts/include_graph.sh build --dot docs/include_graph.dot &&
#   dot -Tpng docs/include_graph.dot -o docs/include_graph.png
set -euo pipefail

usage() {
    echo "usage: $0 BUILD_DIR [--files] [--dot FILE] [--check]" >&2
    exit 2
}
[[ $# -ge 1 ]] || usage
root=$(cd "$(dirname "$0")/.." && pwd)
build=$(cd "$1" && pwd)
shift
files=0 check=0 dot=""
while [[ $# -gt 0 ]]; do
    case $1 in
    --files) files=1 && shift ;;
    --check) check=1 && shift ;;
    --dot) [[ $# -ge 2 ]] || usage && dot=$2 && shift 2 ;;
    *) usage ;;
    esac
done
db=$build/compile_commands.json
layers=$root/scripts/layers.txt
[[ -f $db ]] || { echo "error: $db not found (configure with CMAKE_EXPORT_COMPILE_COMMANDS=ON)" >&2; exit 2; }
[[ -f $layers ]] || { echo "error: $layers not found" >&2; exit 2; }

# File edges "from<TAB>to", paths relative to the source tree.
file_edges() {
    awk -v root="$root" -v build="$build" '
    function norm(p,    n, i, k, part, out) {
        n = split(p, part, "/")
        k = 0
        for (i = 1; i <= n; ++i) {
            if (part[i] == "" || part[i] == ".") continue
            if (part[i] == "..") { if (k > 0) --k; continue }
            out[++k] = part[i]
        }
        p = ""
        for (i = 1; i <= k; ++i) p = p "/" out[i]
        return p
    }
    function exists(p,    line, r) {
        if (p in known) return known[p]
        r = (getline line < p) >= 0
        close(p)
        return known[p] = r
    }
    function resolve(name, dir, quoted,    i, c) {
        if (substr(name, 1, 1) == "/") return exists(name) ? norm(name) : ""
        if (quoted && exists(c = norm(dir "/" name))) return c
        for (i = 1; i <= n_inc; ++i)
            if (exists(c = norm(inc[i] "/" name))) return c
        return ""
    }
    function ours(p) { return index(p, root "/") == 1 && index(p, build "/") != 1 }
    function walk(f,    line, name, quoted, dir, r) {
        if ((unit, f) in seen) return
        seen[unit, f] = 1
        dir = f
        sub(/\/[^\/]*$/, "", dir)
        while ((getline line < f) > 0) {
            if (line !~ /^[ \t]*#[ \t]*include[ \t]*["<]/) continue
            quoted = line ~ /include[ \t]*"/
            name = line
            sub(/^[^"<]*["<]/, "", name)
            sub(/[">].*$/, "", name)
            r = resolve(name, dir, quoted)
            if (r == "" || !ours(r)) continue
            print substr(f, length(root) + 2) "\t" substr(r, length(root) + 2)
            walk(r)
        }
        close(f)
    }
    # compile_commands.json as CMake writes it: one "key": "value" per line
    /^ *"directory": / { dir0 = $0; sub(/^ *"directory": "/, "", dir0); sub(/",?$/, "", dir0) }
    /^ *"command": / {
        cmd = $0
        sub(/^ *"command": "/, "", cmd)
        sub(/",?$/, "", cmd)
        gsub(/\\"/, "", cmd) # escaped quotes around -D values: not needed here
        n_inc = 0
        n = split(cmd, arg, " ")
        for (i = 1; i <= n; ++i) {
            if (arg[i] ~ /^-(I|iquote|isystem)$/ && i < n) d = arg[++i]
            else if (arg[i] ~ /^-(I|iquote|isystem)./) { d = arg[i]; sub(/^-(I|iquote|isystem)/, "", d) }
            else continue
            inc[++n_inc] = substr(d, 1, 1) == "/" ? norm(d) : norm(dir0 "/" d)
        }
    }
    /^ *"file": / {
        f = $0
        sub(/^ *"file": "/, "", f)
        sub(/",?$/, "", f)
        f = substr(f, 1, 1) == "/" ? norm(f) : norm(dir0 "/" f)
        ++unit
        if (ours(f)) walk(f)
    }' "$db" | sort -u
}

# The top-level folder of a path (include/pa/x.h -> include).
folder_of() { awk -F'\t' '{ split($1, a, "/"); split($2, b, "/"); print a[1] "\t" b[1] "\t" $1 "\t" $2 }'; }

edges=$(file_edges | folder_of | awk -F'\t' '$1 != $2')
if [[ $files == 1 ]]; then
    awk -F'\t' '{ print $3 " -> " $4 }' <<<"$edges"
elif [[ $check == 0 ]]; then
    awk -F'\t' '{ n[$1 " -> " $2]++ } END { for (e in n) printf "%-24s %d\n", e, n[e] }' <<<"$edges" | sort
fi

# Layer order and allowed exceptions from layers.txt.
ranks=$(awk '!/^#/ && NF == 1 { print $1 "\t" ++r }' "$layers")
allowed=$(awk '$1 == "allow" && NF == 3 { print $2 "\t" $3 }' "$layers")
verdicts=$(awk -F'\t' -v ranks="$ranks" -v allowed="$allowed" '
    BEGIN {
        n = split(ranks, l, "\n")
        for (i = 1; i <= n; ++i) { split(l[i], kv, "\t"); rank[kv[1]] = kv[2] }
        n = split(allowed, l, "\n")
        for (i = 1; i <= n; ++i) ok[l[i]] = 1
    }
    {
        if (!($1 in rank)) { print "unknown\t" $1 "\t" $3; next }
        if (!($2 in rank)) { print "unknown\t" $2 "\t" $4; next }
        if (rank[$2] > rank[$1] && !(($1 "\t" $2) in ok)) print "upward\t" $1 "\t" $2 "\t" $3 "\t" $4
    }' <<<"$edges")

if [[ -n $dot ]]; then
    {
        echo "// generated by scripts/include_graph.sh: includes between top-level folders (counts)"
        echo "digraph include_graph {"
        echo "  rankdir=TB; node [shape=box, style=rounded, fontname=\"Helvetica\"];"
        echo "  edge [fontname=\"Helvetica\", fontsize=10, color=\"#555555\"];"
        awk -F'\t' -v used="$(cut -f1,2 <<<"$edges" | tr '\t' '\n' | sort -u)" '
            BEGIN { n = split(used, u, "\n"); for (i = 1; i <= n; ++i) seen[u[i]] = 1 }
            seen[$1] { printf "  \"%s\";\n", $1 }' <<<"$ranks"
        # include/ (the public headers) is used by every folder: its edges are drawn light
        awk -F'\t' -v bad="$verdicts" -v allowed="$allowed" '
            BEGIN {
                n = split(bad, l, "\n")
                for (i = 1; i <= n; ++i) { split(l[i], v, "\t"); if (v[1] == "upward") up[v[2] "\t" v[3]] = 1 }
                n = split(allowed, l, "\n")
                for (i = 1; i <= n; ++i) ok[l[i]] = 1
            }
            { n_inc[$1 "\t" $2]++ }
            END {
                for (e in n_inc) {
                    split(e, ft, "\t")
                    style = ft[2] == "include" ? ", color=\"#bbbbbb\", fontcolor=\"#999999\"" : ""
                    if (e in ok) style = ", style=dashed, color=orange, fontcolor=orange"
                    if (e in up) style = ", color=red, fontcolor=red"
                    printf "  \"%s\" -> \"%s\" [label=\"%d\"%s];\n", ft[1], ft[2], n_inc[e], style
                }
            }' <<<"$edges" | sort
        echo "}"
    } >"$dot"
fi

if [[ $check == 1 ]]; then
    if [[ -z $verdicts ]]; then
        echo "layering: every include between top-level folders follows scripts/layers.txt"
        exit 0
    fi
    awk -F'\t' '
        $1 == "unknown" { printf "folder %s (%s) is not listed in scripts/layers.txt\n", $2, $3 }
        $1 == "upward" { printf "%s may not include %s: %s -> %s\n", $2, $3, $4, $5 }' <<<"$verdicts"
    exit 1
fi
