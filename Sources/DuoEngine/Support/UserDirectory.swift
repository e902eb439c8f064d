import Foundation

/// duoscope's per-user folders, resolved one way for every kind: an override variable, else the
/// XDG variable + `/duoscope`, else `~/<home fallback>`; nil when the disabling variable is set
/// or there is no absolute home.
public enum UserDirectory {
    case cache
    case config

    private var names: (override: String, disable: String, xdg: String, home: String) {
        switch self {
        case .cache: return ("DUOSCOPE_CACHE_DIR", "DUOSCOPE_NO_CACHE", "XDG_CACHE_HOME", ".cache/duoscope")
        case .config: return ("DUOSCOPE_CONFIG_DIR", "DUOSCOPE_NO_CONFIG", "XDG_CONFIG_HOME", ".config/duoscope")
        }
    }

    public func url(environment: [String: String] = ProcessInfo.processInfo.environment) -> URL? {
        let n = names
        if environment[n.disable] != nil { return nil }
        if let dir = environment[n.override], !dir.isEmpty { return URL(fileURLWithPath: dir) }
        if let xdg = environment[n.xdg], xdg.hasPrefix("/") { return URL(fileURLWithPath: xdg).appendingPathComponent("duoscope") }
        guard let home = environment["HOME"], home.hasPrefix("/") else { return nil }
        return URL(fileURLWithPath: home).appendingPathComponent(n.home)
    }
}
