/// Every token takes the same route at every layer (all-big, all-small, all-skip).
public struct UniformPolicy: RoutingPolicy {
    public let route: Route
    public init(_ route: Route) { self.route = route }
    public var name: String { "all-\(route.name)" }
    public func routes(layer: Int, positions: Range<Int>, ffnInput: UnsafePointer<Float>, width: Int) -> [Route] {
        Array(repeating: route, count: positions.count)
    }
}

/// One pattern over the layers, the same for every token (a "fixed" routing).
public struct PatternPolicy: RoutingPolicy {
    public let pattern: [Route]
    public init(_ pattern: [Route]) { self.pattern = pattern }
    public var name: String { "pattern:" + String(pattern.map(\.letter)) }
    public func routes(layer: Int, positions: Range<Int>, ffnInput: UnsafePointer<Float>, width: Int) -> [Route] {
        Array(repeating: pattern[layer], count: positions.count)
    }
}

/// An explicit route for every position and layer (e.g. an oracle's choices); position p uses row p.
public struct MatrixPolicy: RoutingPolicy {
    public let matrix: RouteMatrix
    public let name: String
    public init(_ matrix: RouteMatrix, name: String = "explicit") {
        self.matrix = matrix
        self.name = name
    }
    public func routes(layer: Int, positions: Range<Int>, ffnInput: UnsafePointer<Float>, width: Int) -> [Route] {
        positions.map { matrix[$0, layer] }
    }
}
