# bash completion for entra-helper                             -*- shell-script -*-

# _entra_helper_profiles prints the profile names of the config file.
_entra_helper_profiles()
{
    local cfg=${ENTRA_HELPER_CONFIG:-${XDG_CONFIG_HOME:-$HOME/.config}/entra-helper/config.toml}
    [[ -r $cfg ]] || return
    sed -n 's/^[[:space:]]*\[profiles\.\([A-Za-z0-9_-]*\)\][[:space:]]*\(#.*\)\{0,1\}$/\1/p' "$cfg"
}

_entra_helper()
{
    local cur prev words cword
    _init_completion || return

    local commands="token login logout status headers databricks azure credential git inspect version help"
    local i cmd="" sub=""
    for ((i = 1; i < cword; i++)); do
        case ${words[i]} in
            -p | --profile) ((i++)) ;;
            -*) ;;
            *)
                if [[ -z $cmd ]]; then
                    cmd=${words[i]}
                elif [[ ($cmd == databricks || $cmd == azure || $cmd == git || $cmd == credential) && -z $sub ]]; then
                    sub=${words[i]}
                fi
                ;;
        esac
    done

    case $prev in
        -p | --profile)
            COMPREPLY=($(compgen -W "$(_entra_helper_profiles)" -- "$cur"))
            return
            ;;
        -o | --output)
            COMPREPLY=($(compgen -W "token json az exec-credential header" -- "$cur"))
            return
            ;;
        --shell)
            COMPREPLY=($(compgen -W "sh bash zsh fish powershell pwsh cmd" -- "$cur"))
            return
            ;;
        --scope | --resource | --min-valid | --databricks-profile | --url)
            return
            ;;
    esac

    local opts
    case $cmd in
        "") opts="-p --profile -h --help --version $commands" ;;
        token) opts="-p --profile --scope --resource --min-valid -o --output -h --help" ;;
        login) opts="-p --profile --secret-stdin --password-stdin --refresh-token-stdin --certificate-stdin --no-browser -h --help" ;;
        logout | headers) opts="-p --profile -h --help" ;;
        status) opts="--json -h --help" ;;
        inspect) opts="--verify --json -h --help" ;;
        databricks)
            case $sub in
                "") opts="env configure" ;;
                env) opts="-p --profile --shell -h --help" ;;
                configure) opts="-p --profile --databricks-profile -h --help" ;;
            esac
            ;;
        azure)
            case $sub in
                "") opts="env" ;;
                env) opts="-p --profile --terraform --shell -h --help" ;;
            esac
            ;;
        credential)
            case $sub in
                "") opts="-p --profile --url -h --help get store erase" ;;
                *) opts="-p --profile --url" ;;
            esac
            ;;
        git)
            case $sub in
                "") opts="configure" ;;
                configure) opts="-p --profile --url --unset -h --help" ;;
            esac
            ;;
        help) opts="$commands" ;;
        *) opts="-h --help" ;;
    esac
    COMPREPLY=($(compgen -W "$opts" -- "$cur"))
} &&
    complete -F _entra_helper entra-helper

# ex: filetype=sh
