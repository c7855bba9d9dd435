#!powershell
# Copyright: socle contributors. EUPL-1.2
# One-pass conformity snapshot of a Windows poste: the same document shape as socle_facts (Linux),
# evaluated by the same controller code (socle/conformity.py). Reads effective values (the running
# firewall, Defender and SMB state, the exported security policy), not only the registry values
# the hardening role wrote. Never changes the host.

#AnsibleRequires -CSharpUtil Ansible.Basic

$spec = @{
    options = @{
        master_file = @{ type = "path"; default = "C:\ProgramData\socle\master.json" }
    }
    supports_check_mode = $true
}
$module = [Ansible.Basic.AnsibleModule]::Create($args, $spec)
$started = Get-Date

function Get-RegValue([string]$Path, [string]$Name) {
    try { return (Get-ItemProperty -LiteralPath $Path -Name $Name -ErrorAction Stop).$Name } catch { return $null }
}

# installed software: the Uninstall keys (64- and 32-bit), DisplayName -> DisplayVersion
$packages = @{}
foreach ($root in @(
        "HKLM:\SOFTWARE\Microsoft\Windows\CurrentVersion\Uninstall",
        "HKLM:\SOFTWARE\WOW6432Node\Microsoft\Windows\CurrentVersion\Uninstall")) {
    foreach ($key in (Get-ChildItem -LiteralPath $root -ErrorAction SilentlyContinue)) {
        $p = Get-ItemProperty -LiteralPath $key.PSPath -ErrorAction SilentlyContinue
        if ($p.DisplayName -and -not $p.SystemComponent -and -not $p.ParentKeyName) {
            $packages[[string]$p.DisplayName] = [string]$p.DisplayVersion
        }
    }
}

$master = $null
if (Test-Path -LiteralPath $module.Params.master_file) {
    try { $master = Get-Content -Raw -LiteralPath $module.Params.master_file | ConvertFrom-Json } catch { $master = $null }
}

# effective hardening values
$firewall = @{}
foreach ($fwProfile in (Get-NetFirewallProfile -PolicyStore ActiveStore -ErrorAction SilentlyContinue)) {
    $firewall[[string]$fwProfile.Name] = [bool]($fwProfile.Enabled -eq $true -or [string]$fwProfile.Enabled -eq "True")
}
$defender = $null
try { $defender = [bool](Get-MpComputerStatus -ErrorAction Stop).RealTimeProtectionEnabled } catch { $defender = $null }
$smb1 = $null
try { $smb1 = [bool](Get-SmbServerConfiguration -ErrorAction Stop).EnableSMB1Protocol } catch { $smb1 = $null }
# user rights from the effective local security policy (secedit export), as SIDs
$denyNetwork = @()
$cfg = [System.IO.Path]::GetTempFileName()
try {
    & secedit.exe /export /areas USER_RIGHTS /cfg $cfg /quiet | Out-Null
    $line = Get-Content -LiteralPath $cfg | Where-Object { $_ -like "SeDenyNetworkLogonRight*" } | Select-Object -First 1
    if ($line) { $denyNetwork = @(($line -split "=", 2)[1].Split(",") | ForEach-Object { $_.Trim().TrimStart("*") }) }
} finally {
    Remove-Item -LiteralPath $cfg -Force -ErrorAction SilentlyContinue
}
$uacPath = "HKLM:\SOFTWARE\Microsoft\Windows\CurrentVersion\Policies\System"
$hardening = @{
    smb1_enabled = $smb1
    llmnr_enable_multicast = Get-RegValue "HKLM:\SOFTWARE\Policies\Microsoft\Windows NT\DNSClient" "EnableMulticast"
    autorun_no_drive_type = Get-RegValue "HKLM:\SOFTWARE\Microsoft\Windows\CurrentVersion\Policies\Explorer" "NoDriveTypeAutoRun"
    uac = @{
        EnableLUA = Get-RegValue $uacPath "EnableLUA"
        ConsentPromptBehaviorAdmin = Get-RegValue $uacPath "ConsentPromptBehaviorAdmin"
        PromptOnSecureDesktop = Get-RegValue $uacPath "PromptOnSecureDesktop"
    }
    firewall = $firewall
    defender_realtime = $defender
    deny_network_logon = $denyNetwork
}

# pending updates (Windows Update Agent), security ones by category
$updates = @{ known = $false }
try {
    $searcher = (New-Object -ComObject Microsoft.Update.Session).CreateUpdateSearcher()
    $found = $searcher.Search("IsInstalled=0 and IsHidden=0 and Type='Software'").Updates
    $all = @(); $security = @()
    foreach ($u in $found) {
        $all += [string]$u.Title
        if (@($u.Categories | Where-Object { $_.Name -eq "Security Updates" -or $_.Name -eq "Critical Updates" }).Count) {
            $security += [string]$u.Title
        }
    }
    $updates = @{ known = $true; count = $all.Count; security = @($security | Sort-Object) }
} catch {
    $updates = @{ known = $false; reason = "Windows Update Agent: $($_.Exception.Message)" }
}
$lastHotfix = Get-HotFix -ErrorAction SilentlyContinue | Where-Object { $_.InstalledOn } |
    Sort-Object InstalledOn | Select-Object -Last 1
$disk = Get-CimInstance -ClassName Win32_LogicalDisk -Filter "DeviceID='C:'" -ErrorAction SilentlyContinue
$w32time = Get-Service -Name W32Time -ErrorAction SilentlyContinue

$module.Result.snapshot = @{
    schema_version = 1
    platform = "windows"
    collected_at = (Get-Date -Format "yyyy-MM-ddTHH:mm:sszzz")
    hostname = $env:COMPUTERNAME
    master = $master
    packages = $packages
    hardening = $hardening
    timesync = @{ w32time = if ($w32time) { [string]$w32time.Status } else { $null } }
    disk = @{
        total_mb = if ($disk) { [int64]($disk.Size / 1MB) } else { $null }
        free_mb = if ($disk) { [int64]($disk.FreeSpace / 1MB) } else { $null }
    }
    updates = $updates
    last_patch = @{ windows_update = if ($lastHotfix) { $lastHotfix.InstalledOn.ToString("yyyy-MM-dd") } else { $null } }
    collect_seconds = [math]::Round(((Get-Date) - $started).TotalSeconds, 3)
}
$module.Result.changed = $false
$module.ExitJson()
