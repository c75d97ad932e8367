/// A small but plausible hourly energy balance for one site: PV and wind generation, a demand profile, a battery
/// dispatched by one of three solver strategies, and a grid connection with an import limit and a tariff.
/// Pure computation, deterministic for a seed: the demo and the examples use it to produce realistic studies.

/// A deterministic random number generator (SplitMix64): the same seed gives the same study on every machine.
public struct SeededGenerator: RandomNumberGenerator, Sendable {
    private var state: UInt64

    public init(seed: UInt64) { state = seed }

    public mutating func next() -> UInt64 {
        state &+= 0x9E37_79B9_7F4A_7C15
        var z = state
        z = (z ^ (z >> 30)) &* 0xBF58_476D_1CE4_E5B9
        z = (z ^ (z >> 27)) &* 0x94D0_49BB_1331_11EB
        return z ^ (z >> 31)
    }

    /// A uniform value in `range`.
    public mutating func uniform(_ range: ClosedRange<Double>) -> Double {
        range.lowerBound + (range.upperBound - range.lowerBound) * Double(next() >> 11) / Double(1 << 53)
    }
}

/// How the battery is dispatched.
public enum SolverType: String, Sendable, CaseIterable {
    /// Rule-based: charge from surplus, discharge on deficit.
    case heuristic
    /// Price-aware: also charges from the grid in cheap hours and holds charge for expensive ones.
    case milp
    /// The heuristic with the MILP's price awareness and a smaller reserve: the best of both.
    case hybrid
}

/// How grid energy is priced.
public enum Tariff: String, Sendable, CaseIterable {
    case flat
    case timeOfUse = "time_of_use"
    case dynamic

    /// €/kWh for energy imported in `hour` (hour of the year).
    func importPrice(hour: Int, noise: Double) -> Double {
        let hourOfDay = hour % 24
        switch self {
        case .flat: return 0.28
        case .timeOfUse: return (17...21).contains(hourOfDay) ? 0.42 : (hourOfDay < 6 ? 0.16 : 0.27)
        case .dynamic: return max(0.05, 0.24 + 0.12 * sin(Double(hourOfDay - 13) / 24 * 2 * .pi) + noise)
        }
    }
}

/// One candidate design of the study.
public struct Design: Sendable, Equatable {
    public var solver: SolverType
    public var batteryKWh: Double
    public var pvKW: Double
    public var windKW: Double
    public var gridLimitKW: Double
    public var tariff: Tariff

    public init(solver: SolverType, batteryKWh: Double, pvKW: Double, windKW: Double, gridLimitKW: Double, tariff: Tariff) {
        self.solver = solver
        self.batteryKWh = batteryKWh
        self.pvKW = pvKW
        self.windKW = windKW
        self.gridLimitKW = gridLimitKW
        self.tariff = tariff
    }

    /// A design drawn from the study's design space.
    public static func random(using generator: inout SeededGenerator) -> Design {
        Design(
            solver: SolverType.allCases[Int(generator.next() % 3)],
            batteryKWh: (generator.uniform(0...400) / 10).rounded() * 10,
            pvKW: (generator.uniform(0...300) / 5).rounded() * 5,
            windKW: (generator.uniform(0...200) / 5).rounded() * 5,
            gridLimitKW: (generator.uniform(40...160) / 10).rounded() * 10,
            tariff: Tariff.allCases[Int(generator.next() % 3)]
        )
    }

    /// The design as run parameters (string values, as params are).
    public var parameters: [(String, String)] {
        [
            ("solver_type", solver.rawValue), ("battery_kwh", format(batteryKWh)), ("pv_kw", format(pvKW)), ("wind_kw", format(windKW)),
            ("grid_limit_kw", format(gridLimitKW)), ("tariff", tariff.rawValue),
        ]
    }

    private func format(_ value: Double) -> String { value == value.rounded() ? String(Int(value)) : String(value) }
}

/// The state of the site in one hour.
public struct HourlyPoint: Sendable, Equatable {
    public var hour: Int
    /// Battery state of charge, 0…1.
    public var soc: Double
    public var gridImportKW: Double
    public var pvKW: Double
    public var windKW: Double
    public var demandKW: Double
}

/// The outcome of simulating a design.
public struct SimulationResult: Sendable {
    public var hourly: [HourlyPoint]
    /// The study's eight KPIs, keyed by their metric names.
    public var kpis: [String: Double]
}

/// The names of the KPIs every simulated run reports.
public let kpiNames = [
    "total_cost", "total_co2", "renewable_fraction", "self_consumption_rate", "self_sufficiency_rate", "total_generation_kwh",
    "total_demand_kwh", "net_grid_usage_kwh",
]

/// Simulates `design` for `hours` hours. The generator supplies weather and demand noise.
public func simulate(_ design: Design, hours: Int, using generator: inout SeededGenerator) -> SimulationResult {
    let capacity = design.batteryKWh
    let maxRate = capacity / 2  // a 2-hour battery
    let efficiency = 0.92
    var energy = capacity * 0.5
    var cloudiness = generator.uniform(0.2...0.9)
    var wind = generator.uniform(0.1...0.6)
    var hourly: [HourlyPoint] = []
    hourly.reserveCapacity(hours)
    var generation = 0.0
    var demandTotal = 0.0
    var imported = 0.0
    var exported = 0.0
    var localUse = 0.0
    var shed = 0.0
    var cost = 0.0
    for hour in 0..<hours {
        let hourOfDay = Double(hour % 24)
        if hour % 24 == 0 { cloudiness = min(0.95, max(0.05, cloudiness + generator.uniform(-0.3...0.3))) }
        wind = min(1, max(0, wind + generator.uniform(-0.12...0.12)))
        let sun = max(0, sin((hourOfDay - 6) / 12 * .pi))
        let pv = design.pvKW * sun * (1 - 0.75 * cloudiness)
        let windPower = design.windKW * pow(wind, 2) * 0.9
        let demand = 45 + 25 * exp(-pow(hourOfDay - 8, 2) / 6) + 35 * exp(-pow(hourOfDay - 19, 2) / 8) + generator.uniform(-5...5)
        let price = design.tariff.importPrice(hour: hour, noise: generator.uniform(-0.04...0.04))
        let surplus = pv + windPower - demand
        var batteryFlow = 0.0  // positive: charging
        if surplus > 0 {
            batteryFlow = min(surplus, maxRate, (capacity - energy) / efficiency)
        } else {
            let reserve: Double =
                switch design.solver {
                case .heuristic: 0.1
                case .milp: price > 0.3 ? 0.05 : 0.35
                case .hybrid: price > 0.3 ? 0.02 : 0.2
                }
            batteryFlow = -min(-surplus, maxRate, max(0, energy - capacity * reserve) * efficiency)
        }
        // Price-aware solvers top the battery up from the grid in cheap hours.
        if design.solver != .heuristic, price < 0.2, energy < capacity * 0.8 {
            batteryFlow = max(batteryFlow, min(maxRate, (capacity * 0.8 - energy) / efficiency) * (design.solver == .hybrid ? 0.6 : 0.4))
        }
        energy += batteryFlow > 0 ? batteryFlow * efficiency : batteryFlow / efficiency
        energy = min(capacity, max(0, energy))
        let net = demand + batteryFlow - pv - windPower  // what the grid must supply (negative: export)
        var gridImport = max(0, net)
        if gridImport > design.gridLimitKW {
            shed += gridImport - design.gridLimitKW
            gridImport = design.gridLimitKW
        }
        let gridExport = max(0, -net)
        generation += pv + windPower
        demandTotal += demand
        imported += gridImport
        exported += gridExport
        localUse += pv + windPower - gridExport
        cost += gridImport * price - gridExport * 0.04
        hourly.append(
            HourlyPoint(
                hour: hour, soc: capacity > 0 ? energy / capacity : 0, gridImportKW: gridImport, pvKW: pv, windKW: windPower, demandKW: demand)
        )
    }
    // Capital cost as an annuity (10 %/year: 20 years at about 8 % interest) charged for the simulated hours.
    let capexPerHour = (design.pvKW * 1100 + design.windKW * 1600 + design.batteryKWh * 450) * 0.1 / 8760
    cost += capexPerHour * Double(hours) + shed * 2.5
    let co2 = imported * 0.38 + (design.pvKW * 0.4 + design.windKW * 0.3 + design.batteryKWh * 0.6) * Double(hours) / 8760 * 50
    let renewableUsed = min(localUse, demandTotal)
    return SimulationResult(
        hourly: hourly,
        kpis: [
            "total_cost": cost,
            "total_co2": co2,
            "renewable_fraction": demandTotal > 0 ? min(1, (renewableUsed + 0.3 * imported) / demandTotal) : 0,
            "self_consumption_rate": generation > 0 ? localUse / generation : 0,
            "self_sufficiency_rate": demandTotal > 0 ? max(0, 1 - (imported + shed) / demandTotal) : 0,
            "total_generation_kwh": generation,
            "total_demand_kwh": demandTotal,
            "net_grid_usage_kwh": imported - exported,
        ]
    )
}

#if canImport(Glibc)
    import Glibc
#elseif canImport(Darwin)
    import Darwin
#endif

/// One design of a study, simulated: what the demo and the examples record as a run.
public struct StudyRun: Sendable {
    /// 1-based position in the study.
    public var index: Int
    /// 32 hex characters drawn from the study's generator: a deterministic run id.
    public var identifier: String
    public var name: String
    public var design: Design
    public var site: String
    /// Why the run failed, for the few that do; they log half their hours and no KPIs.
    public var failure: String?
    public var result: SimulationResult

    /// The hours the run logs: all of them, or the first half for a failed run.
    public var loggedHours: ArraySlice<HourlyPoint> { failure == nil ? result.hourly[...] : result.hourly.prefix(result.hourly.count / 2) }

    /// The per-hour metrics of one hour, by name.
    public static func metrics(of point: HourlyPoint) -> [(String, Double)] {
        [("soc", point.soc), ("grid_import_kw", point.gridImportKW), ("pv_kw", point.pvKW), ("wind_kw", point.windKW), ("demand_kw", point.demandKW)]
    }

    /// The run's tags.
    public var tags: [(String, String)] {
        var tags = [("site", site), ("scenario", "base-2030")]
        if let failure { tags.append(("failure_reason", failure)) }
        return tags
    }
}

/// A deterministic energy-system design study: the same seed gives the same designs, weather and results.
public struct Study: Sendable {
    public let steps: Int
    private var generator: SeededGenerator
    private var count = 0

    public init(seed: UInt64, steps: Int) {
        self.steps = steps
        self.generator = SeededGenerator(seed: seed)
    }

    /// Draws and simulates the next design.
    public mutating func next() -> StudyRun {
        count += 1
        let identifier = [generator.next(), generator.next()].map { value in
            let digits = String(value, radix: 16)
            return String(repeating: "0", count: 16 - digits.count) + digits
        }.joined()
        let design = Design.random(using: &generator)
        let site = ["north", "south", "coastal"][Int(generator.next() % 3)]
        let failure: String? =
            generator.uniform(0...1) < 0.04
            ? ["solver did not converge", "infeasible: grid limit below peak demand", "time limit reached"][Int(generator.next() % 3)] : nil
        let result = simulate(design, hours: steps, using: &generator)
        let name = "design-" + String(repeating: "0", count: max(0, 4 - String(count).count)) + String(count)
        return StudyRun(index: count, identifier: identifier, name: name, design: design, site: site, failure: failure, result: result)
    }
}
