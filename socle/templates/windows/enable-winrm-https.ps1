# Opens the build door (first logon of the build account, from the answer ISO): WinRM over HTTPS
# only, with the certificate the build's own throw-away CA issued for 127.0.0.1 (the controller
# validates it). No HTTP listener, no Basic auth, no unencrypted traffic. The door is closed by
# roles/win_generalize before sysprep.
$ErrorActionPreference = 'Stop'
$media = Split-Path -Parent $MyInvocation.MyCommand.Path
$password = ConvertTo-SecureString -String (Get-Content -Raw -Path (Join-Path $media 'winrm.pass')).Trim() -AsPlainText -Force
$cert = Import-PfxCertificate -FilePath (Join-Path $media 'winrm.pfx') -CertStoreLocation Cert:\LocalMachine\My -Password $password

# The build network is QEMU's restricted user network: mark it private so that remoting may listen.
Get-NetConnectionProfile | Set-NetConnectionProfile -NetworkCategory Private
Enable-PSRemoting -SkipNetworkProfileCheck -Force
Get-ChildItem -Path WSMan:\localhost\Listener |
    Where-Object { $_.Keys -contains 'Transport=HTTP' } |
    Remove-Item -Recurse -Force
New-Item -Path WSMan:\localhost\Listener -Transport HTTPS -Address * -CertificateThumbPrint $cert.Thumbprint -Force | Out-Null
Set-Item -Path WSMan:\localhost\Service\Auth\Basic -Value $false
Set-Item -Path WSMan:\localhost\Service\AllowUnencrypted -Value $false
Get-NetFirewallRule -Name 'WINRM-HTTP-In-TCP*' -ErrorAction SilentlyContinue | Disable-NetFirewallRule
New-NetFirewallRule -Name 'socle-build-winrm-https' -DisplayName 'socle build: WinRM over HTTPS' `
    -Direction Inbound -Protocol TCP -LocalPort 5986 -Action Allow -Profile Any | Out-Null
# A local administrator gets a full token over the network only with this (UAC remote restrictions);
# roles/win_generalize removes it with the listener.
New-ItemProperty -Path 'HKLM:\SOFTWARE\Microsoft\Windows\CurrentVersion\Policies\System' `
    -Name LocalAccountTokenFilterPolicy -Value 1 -PropertyType DWord -Force | Out-Null
