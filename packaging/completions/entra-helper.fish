# fish completion for entra-helper

function __entra_helper_profiles
    set -l cfg $ENTRA_HELPER_CONFIG
    if test -z "$cfg"
        set -l base $XDG_CONFIG_HOME
        test -z "$base"; and set base ~/.config
        set cfg $base/entra-helper/config.toml
    end
    test -r $cfg; or return
    sed -n 's/^[[:space:]]*\[profiles\.\([A-Za-z0-9_-]*\)\][[:space:]]*\(#.*\)\{0,1\}$/\1/p' $cfg
end

set -l commands token login logout status headers databricks azure credential git inspect version help
set -l profile_cmds token login logout headers databricks azure credential git

complete -c entra-helper -f
complete -c entra-helper -n "not __fish_seen_subcommand_from $commands" -a token -d 'Print an access token'
complete -c entra-helper -n "not __fish_seen_subcommand_from $commands" -a login -d 'Sign a profile in'
complete -c entra-helper -n "not __fish_seen_subcommand_from $commands" -a logout -d "Forget a profile's tokens and secrets"
complete -c entra-helper -n "not __fish_seen_subcommand_from $commands" -a status -d "Show the daemon's state"
complete -c entra-helper -n "not __fish_seen_subcommand_from $commands" -a headers -d 'Print the Azure Databricks request headers'
complete -c entra-helper -n "not __fish_seen_subcommand_from $commands" -a databricks -d 'Databricks CLI and SDK configuration'
complete -c entra-helper -n "not __fish_seen_subcommand_from $commands" -a azure -d 'Azure SDK and Terraform configuration'
complete -c entra-helper -n "not __fish_seen_subcommand_from $commands" -a credential -d "git's credential helper (get, store, erase)"
complete -c entra-helper -n "not __fish_seen_subcommand_from $commands" -a git -d 'Make git use entra-helper for a URL'
complete -c entra-helper -n "not __fish_seen_subcommand_from $commands" -a inspect -d 'Decode a token'
complete -c entra-helper -n "not __fish_seen_subcommand_from $commands" -a version -d 'Print the version'
complete -c entra-helper -n "not __fish_seen_subcommand_from $commands" -a help -d 'Show help'
complete -c entra-helper -n "not __fish_seen_subcommand_from $commands" -l version -d 'Print the version'
complete -c entra-helper -s h -l help -d 'Show help'

complete -c entra-helper -n "not __fish_seen_subcommand_from $commands; or __fish_seen_subcommand_from $profile_cmds" -s p -l profile -x -a '(__entra_helper_profiles)' -d 'Profile to use'

complete -c entra-helper -n '__fish_seen_subcommand_from token' -l scope -x -d 'Scope to request (repeatable)'
complete -c entra-helper -n '__fish_seen_subcommand_from token' -l resource -x -d 'Resource whose /.default scope to request'
complete -c entra-helper -n '__fish_seen_subcommand_from token' -l min-valid -x -d 'Least lifetime left'
complete -c entra-helper -n '__fish_seen_subcommand_from token' -s o -l output -x -a 'token json az exec-credential header' -d 'Output format'

complete -c entra-helper -n '__fish_seen_subcommand_from login' -l secret-stdin -d 'Read the client secret from stdin'
complete -c entra-helper -n '__fish_seen_subcommand_from login' -l password-stdin -d 'Read the password from stdin'
complete -c entra-helper -n '__fish_seen_subcommand_from login' -l refresh-token-stdin -d 'Read a refresh token from stdin'
complete -c entra-helper -n '__fish_seen_subcommand_from login' -l certificate-stdin -d 'Read a PEM certificate and key from stdin'
complete -c entra-helper -n '__fish_seen_subcommand_from login' -l no-browser -d 'Print the sign-in URL only'

complete -c entra-helper -n '__fish_seen_subcommand_from status' -l json -d 'Print JSON'
complete -c entra-helper -n '__fish_seen_subcommand_from inspect' -l verify -d 'Check the signature'
complete -c entra-helper -n '__fish_seen_subcommand_from inspect' -l json -d 'Print JSON'

complete -c entra-helper -n '__fish_seen_subcommand_from databricks; and not __fish_seen_subcommand_from env configure' -a env -d 'Print export lines for the Databricks CLI and SDKs'
complete -c entra-helper -n '__fish_seen_subcommand_from databricks; and not __fish_seen_subcommand_from env configure' -a configure -d 'Write a ~/.databrickscfg profile'
complete -c entra-helper -n '__fish_seen_subcommand_from azure; and not __fish_seen_subcommand_from env' -a env -d 'Print export lines for the Azure SDKs or Terraform'
complete -c entra-helper -n '__fish_seen_subcommand_from azure; and __fish_seen_subcommand_from env' -l terraform -d "Print Terraform's ARM_* variables"
complete -c entra-helper -n '__fish_seen_subcommand_from env' -l shell -x -a 'sh bash zsh fish powershell pwsh cmd' -d 'Shell syntax'
complete -c entra-helper -n '__fish_seen_subcommand_from configure' -l databricks-profile -x -d 'Section of ~/.databrickscfg'

complete -c entra-helper -n '__fish_seen_subcommand_from credential; and not __fish_seen_subcommand_from get store erase' -a 'get store erase' -d 'Action (git appends it)'
complete -c entra-helper -n '__fish_seen_subcommand_from credential' -l url -x -d 'The URL the helper answers for'
complete -c entra-helper -n '__fish_seen_subcommand_from git; and not __fish_seen_subcommand_from configure' -a configure -d "Write git's credential helper entries for a URL"
complete -c entra-helper -n '__fish_seen_subcommand_from git; and __fish_seen_subcommand_from configure' -l url -x -d 'https URL of the organisation or repository'
complete -c entra-helper -n '__fish_seen_subcommand_from git; and __fish_seen_subcommand_from configure' -l unset -d 'Remove the entries'
