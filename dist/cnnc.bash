# bash completion for cnnc and for the programs it builds.
# cnnc: its options, the --emit= kinds, and .cnn / .safetensors files where they belong.
# A program built by cnnc (say ./lenet5): `complete -F _cnnc_program lenet5` after sourcing
# this file completes its commands and each command's options, read from the program's own
# --help, so they always match the program.

_cnnc() {
    local cur prev
    cur=${COMP_WORDS[COMP_CWORD]}
    prev=${COMP_WORDS[COMP_CWORD-1]}
    case $prev in
        -o) compopt -o filenames 2>/dev/null; COMPREPLY=($(compgen -f -- "$cur")); return ;;
        --embed-weights) compopt -o filenames 2>/dev/null
            COMPREPLY=($(compgen -f -X '!*.safetensors' -- "$cur") $(compgen -d -- "$cur")); return ;;
        --svg) compopt -o filenames 2>/dev/null; COMPREPLY=($(compgen -f -- "$cur")); return ;;
        --batch|--slices|--model|-D) return ;;
    esac
    case $cur in
        --emit=*)
            COMPREPLY=($(compgen -W "ir params c plan dot torch" -- "${cur#--emit=}")); return ;;
        --dump-after=*)
            COMPREPLY=($(compgen -W "elaborate shape autodiff fuse plan" -- "${cur#--dump-after=}")); return ;;
        -*)
            COMPREPLY=($(compgen -W "-o --emit= --model -D --batch --slices -O0 -O1 -O2 --train --no-train --mpi
                                     --embed-weights --svg --dump-after= -h --help --version" -- "$cur"))
            case ${COMPREPLY[0]} in --emit=|--dump-after=) compopt -o nospace 2>/dev/null ;; esac
            return ;;
    esac
    compopt -o filenames 2>/dev/null
    COMPREPLY=($(compgen -f -X '!*.cnn' -- "$cur") $(compgen -d -- "$cur"))
}
complete -F _cnnc cnnc

_cnnc_program() {
    local cur prog cmd i
    cur=${COMP_WORDS[COMP_CWORD]}
    prog=${COMP_WORDS[0]}
    if [ "$COMP_CWORD" -eq 1 ]; then
        # The command list of PROGRAM --help: the indented lines after "Commands:".
        COMPREPLY=($(compgen -W "$("$prog" --help 2>/dev/null |
            sed -n '/^Commands:/,/^$/{/^  [a-z]/{s/^  \([a-z]*\).*/\1/p}}') --help" -- "$cur"))
        return
    fi
    cmd=${COMP_WORDS[1]}
    if [[ $cur == -* ]]; then
        COMPREPLY=($(compgen -W "$("$prog" "$cmd" --help 2>/dev/null | grep -o -- '--[a-z][a-z0-9-]*' | sort -u)
                                 --help" -- "$cur"))
        return
    fi
    case ${COMP_WORDS[COMP_CWORD-1]} in
        --data|--save) compopt -o filenames 2>/dev/null; COMPREPLY=($(compgen -d -- "$cur")); return ;;
    esac
    compopt -o filenames 2>/dev/null
    COMPREPLY=($(compgen -f -- "$cur"))
}
