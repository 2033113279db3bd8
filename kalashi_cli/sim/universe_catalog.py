"""The sim universe's catalogue: series, their shapes, fees, tick grids and name pools.

Everything here is static data (no randomness): :mod:`.universe` draws from it with the
universe's seed. The per-category numbers (spreads, sizes, volume) are calibrated against
the real captures; docs/sim-calibration.md lists the measured values next to these.

Categories (the brief's six) and the Kalshi category labels they carry on markets:

=============  =======================  ======================================================
group          Kalshi label(s)          shapes
=============  =======================  ======================================================
politics       Elections, Politics      party/race winners (ME), nominees (ME, not exhaustive),
                                        yes/no questions, approval brackets
crypto         Crypto                   "above K" ladders, price brackets, 15-minute up/down
stocks         Financials               index brackets and ladders
sports         Sports                   game winners (ME exhaustive, 2–3 outcomes), spread and
                                        total ladders, championship (ME), combos (is_combo)
economics      Economics                CPI/payrolls/GDP ladders, Fed decision (ME), brackets
weather        Climate and Weather      daily high/low brackets, monthly rain/snow ladders
=============  =======================  ======================================================
"""

from __future__ import annotations

from dataclasses import dataclass

#: Share of the universe's markets per category group (the sim's choice: Kalshi lists far
#: more sports and crypto strikes than anything else; every group stays well represented).
GROUP_SHARES: dict[str, float] = {
    "sports": 0.28,
    "crypto": 0.20,
    "stocks": 0.10,
    "economics": 0.12,
    "politics": 0.15,
    "weather": 0.15,
}

#: Liquidity-class mix per group: (liquid, normal, thin). Real BBO captures show economics and
#: politics books far wider than sports/weather (docs/sim-calibration.md §spreads).
CLASS_MIX: dict[str, tuple[float, float, float]] = {
    "sports": (0.75, 0.20, 0.05),
    "crypto": (0.60, 0.30, 0.10),
    "stocks": (0.55, 0.30, 0.15),
    "economics": (0.25, 0.35, 0.40),
    "politics": (0.30, 0.30, 0.40),
    "weather": (0.80, 0.15, 0.05),
}

#: Median size (contracts) of the best level and of deeper levels for a liquid market, per
#: group; normal and thin classes scale these down (CLASS_SIZE_FACTOR).
TOP_SIZE_MEDIAN: dict[str, float] = {
    "sports": 2500.0,
    "crypto": 1600.0,
    "stocks": 800.0,
    "economics": 300.0,
    "politics": 800.0,
    "weather": 100.0,
}
LEVEL_SIZE_MEDIAN: dict[str, float] = {
    "sports": 1200.0,
    "crypto": 300.0,
    "stocks": 300.0,
    "economics": 150.0,
    "politics": 400.0,
    "weather": 30.0,
}
CLASS_SIZE_FACTOR = (1.0, 0.35, 0.08)

#: Median final volume (contracts traded over a generation's life) per group; the real
#: captures span 0 … 10^8 (docs/sim-calibration.md §volume).
VOLUME_MEDIAN: dict[str, float] = {
    "sports": 150_000.0,
    "crypto": 120_000.0,
    "stocks": 40_000.0,
    "economics": 8_000.0,
    "politics": 60_000.0,
    "weather": 15_000.0,
}
#: Share of markets that never trade in a generation (real: 2–26 % zero-volume).
ZERO_VOLUME_SHARE = 0.08


@dataclass(frozen=True, slots=True)
class Underlying:
    """The measured quantity behind a ladder or bracket event, in lattice units.

    ``decimals`` is the lattice resolution (2 → $0.01, 1 → 0.1 %, 0 → 1 °F); ``level`` the
    typical value, ``spacing`` the distance between strikes (or a bracket's width),
    ``strike_offset`` shifts ladder strikes (crypto ``T105999.99`` is 106 000 − one cent);
    ``label_scale`` multiplies a strike for its ticker suffix (payrolls in thousands).
    """

    decimals: int
    level: int
    spacing: int
    strike_offset: int = 0
    half_strikes: bool = False  # strikes sit between lattice values (``over 1.5 runs``)
    unit: str = ""
    prefix: str = ""
    label_scale: int = 1
    jitter: float = 0.02  # relative spread of an event's centre around ``level``


@dataclass(frozen=True, slots=True)
class SeriesSpec:
    """One series (or a family of series, one per member, when ``ticker`` has ``{m}``)."""

    ticker: str
    title: str
    category: str
    group: str
    shape: str  # binary | me | ladder | brackets | combo
    weight: float
    fee_type: str = "quadratic"
    fee_multiplier: int = 10_000  # 1/10 000
    grid: str = "linear_cent"  # linear_cent | tapered_deci_cent | deci_cent
    datecode: str = "day"  # minute | hour | day | month | year
    life: tuple[int, int] = (300, 900)  # generation length in steps
    n: tuple[int, int] = (1, 1)  # markets per event (ME outcomes, ladder strikes, brackets)
    exhaustive: float = 1.0  # probability an ME/bracket event is exhaustive
    pool: str = ""  # outcome names for ME events (see POOLS)
    pairs: bool = False  # events are match-ups of two pool members (the tag names both)
    draw: bool = False  # a match-up can end in a tie (a third outcome, TIE)
    members: tuple[tuple[str, str, int], ...] = ()  # family members: (code, name, level)
    underlying: Underlying | None = None
    event_title: str = ""
    market_title: str = ""
    binary_suffix: str = "YES"
    frequency: str = "daily"
    open_sd: float = 0.95  # spread of a binary's opening latent (≈ 0: opens near 50 %, like up/down markets)
    class_mix: tuple[float, float, float] | None = None  # liquidity-class mix, when not the group's
    activity: float = 1.0  # × the class's share of steps with trades (up/down crypto trades every second)
    terminal_share: float = 0.15  # share of the opening uncertainty left at close (up/down: the last tick decides)


_CENT = "linear_cent"
_TAPER = "tapered_deci_cent"
_DECI = "deci_cent"

_STATES = (
    ("GA", "Georgia", 0),
    ("MI", "Michigan", 0),
    ("AZ", "Arizona", 0),
    ("NC", "North Carolina", 0),
    ("PA", "Pennsylvania", 0),
    ("WI", "Wisconsin", 0),
    ("NV", "Nevada", 0),
    ("TX", "Texas", 0),
    ("OH", "Ohio", 0),
    ("ME", "Maine", 0),
    ("IA", "Iowa", 0),
    ("NH", "New Hampshire", 0),
)
_CITIES_HIGH = (
    ("NY", "New York City", 41),
    ("CHI", "Chicago", 32),
    ("AUS", "Austin", 62),
    ("MIA", "Miami", 76),
    ("DEN", "Denver", 45),
    ("LAX", "Los Angeles", 68),
    ("PHIL", "Philadelphia", 42),
    ("ATL", "Atlanta", 54),
    ("SEA", "Seattle", 48),
    ("BOS", "Boston", 37),
    ("DAL", "Dallas", 57),
    ("HOU", "Houston", 64),
)
_CITIES_LOW = tuple((c, n, lvl - 14) for c, n, lvl in _CITIES_HIGH[:8])
_CITIES_RAIN = (("NYC", "New York City", 35), ("SEA", "Seattle", 55), ("MIA", "Miami", 20), ("CHI", "Chicago", 25))

# a table, one series per entry: kept as written, not exploded one argument per line
# fmt: off
SERIES: tuple[SeriesSpec, ...] = (
    # ------------------------------------------------------------------ politics
    SeriesSpec("KXPRESPARTY", "Presidential election winner (party)", "Elections", "politics", "me", 1.0,
               datecode="year", life=(1500, 4000), n=(3, 3), pool="parties",
               event_title="Which party will win the {year} presidential election?",
               market_title="Will the {name} win the {year} presidential election?", frequency="custom"),
    SeriesSpec("KXSENATE{m}", "{name} Senate race", "Elections", "politics", "me", 3.0, members=_STATES,
               datecode="year", life=(800, 3000), n=(2, 2), pool="parties",
               event_title="Which party will win the {member} Senate race?",
               market_title="Will the {name} win the {member} Senate race?", frequency="custom"),
    SeriesSpec("KXGOV{m}", "{name} governor race", "Elections", "politics", "me", 2.0, members=_STATES,
               datecode="year", life=(800, 3000), n=(2, 3), exhaustive=0.5, pool="parties",
               event_title="Which party will win the {member} governor race?",
               market_title="Will the {name} win the {member} governor race?", frequency="custom"),
    SeriesSpec("KXPRESNOMD", "Democratic presidential nominee", "Elections", "politics", "me", 1.5,
               datecode="year", life=(1500, 4000), n=(6, 16), exhaustive=0.0, pool="candidates",
               event_title="Who will be the Democratic presidential nominee in {year}?",
               market_title="Will {name} be the Democratic presidential nominee in {year}?", frequency="custom"),
    SeriesSpec("KXPRESNOMR", "Republican presidential nominee", "Elections", "politics", "me", 1.5,
               datecode="year", life=(1500, 4000), n=(6, 16), exhaustive=0.0, pool="candidates",
               event_title="Who will be the Republican presidential nominee in {year}?",
               market_title="Will {name} be the Republican presidential nominee in {year}?", frequency="custom"),
    SeriesSpec("KXHOUSECTRL", "House control", "Elections", "politics", "binary", 1.0, datecode="year",
               life=(1500, 4000), event_title="Will Democrats win control of the House in {year}?",
               binary_suffix="D", frequency="custom"),
    SeriesSpec("KXGOVSHUT", "Government shutdown", "Politics", "politics", "binary", 1.5, datecode="day",
               life=(400, 1500), event_title="Will the federal government shut down by {date}?",
               frequency="custom"),
    SeriesSpec("KXBILLPASS", "Bill passes Congress", "Politics", "politics", "binary", 1.5, datecode="day",
               life=(400, 1500), event_title="Will the spending bill pass both chambers by {date}?",
               frequency="custom"),
    SeriesSpec("KXAPPROVAL", "Presidential approval rating", "Politics", "politics", "brackets", 2.0,
               datecode="day", life=(300, 1200), n=(5, 9), exhaustive=1.0,
               underlying=Underlying(decimals=1, level=430, spacing=10, unit="%", jitter=0.03),
               event_title="President's approval rating on {date}?", frequency="daily"),
    # ------------------------------------------------------------------ crypto
    SeriesSpec("KXBTCD", "Bitcoin price (above)", "Crypto", "crypto", "ladder", 3.0, grid=_TAPER,
               datecode="hour", life=(200, 700), n=(10, 24),
               underlying=Underlying(decimals=2, level=10_000_000, spacing=25_000, strike_offset=-1, prefix="$",
                                     jitter=0.03),
               event_title="Bitcoin price on {date} at {hour}?", frequency="hourly"),
    SeriesSpec("KXETHD", "Ethereum price (above)", "Crypto", "crypto", "ladder", 2.0, grid=_TAPER,
               datecode="hour", life=(200, 700), n=(10, 20),
               underlying=Underlying(decimals=2, level=350_000, spacing=2_000, strike_offset=-1, prefix="$",
                                     jitter=0.04),
               event_title="Ethereum price on {date} at {hour}?", frequency="hourly"),
    SeriesSpec("KXSOLD", "Solana price (above)", "Crypto", "crypto", "ladder", 1.0, grid=_TAPER,
               datecode="hour", life=(200, 700), n=(8, 16),
               underlying=Underlying(decimals=2, level=20_000, spacing=250, strike_offset=-1, prefix="$",
                                     jitter=0.05),
               event_title="Solana price on {date} at {hour}?", frequency="hourly"),
    SeriesSpec("KXBTC", "Bitcoin price range", "Crypto", "crypto", "brackets", 2.5, grid=_TAPER,
               datecode="hour", life=(200, 700), n=(8, 20), exhaustive=1.0,
               underlying=Underlying(decimals=2, level=10_000_000, spacing=25_000, prefix="$", jitter=0.03),
               event_title="Bitcoin price range on {date} at {hour}?", frequency="hourly"),
    SeriesSpec("KXETH", "Ethereum price range", "Crypto", "crypto", "brackets", 1.5, grid=_TAPER,
               datecode="hour", life=(200, 700), n=(8, 16), exhaustive=1.0,
               underlying=Underlying(decimals=2, level=350_000, spacing=2_000, prefix="$", jitter=0.04),
               event_title="Ethereum price range on {date} at {hour}?", frequency="hourly"),
    SeriesSpec("KXBTC15M", "Bitcoin 15-minute up or down", "Crypto", "crypto", "binary", 2.0, grid=_TAPER,
               datecode="minute", life=(90, 90), binary_suffix="00", open_sd=0.1, class_mix=(0.95, 0.05, 0.0),
               activity=6.0, terminal_share=0.03,
               event_title="BTC price up in next 15 mins? ({date} {time})", frequency="fifteen_min"),
    SeriesSpec("KXETH15M", "Ethereum 15-minute up or down", "Crypto", "crypto", "binary", 1.0, grid=_TAPER,
               datecode="minute", life=(90, 90), binary_suffix="00", open_sd=0.1, class_mix=(0.95, 0.05, 0.0),
               activity=6.0, terminal_share=0.03,
               event_title="ETH price up in next 15 mins? ({date} {time})", frequency="fifteen_min"),
    # ------------------------------------------------------------------ stocks / indices
    SeriesSpec("INXD", "S&P 500 daily range", "Financials", "stocks", "brackets", 3.0,
               fee_type="quadratic_with_maker_fees", datecode="day", life=(300, 1200), n=(8, 16), exhaustive=1.0,
               underlying=Underlying(decimals=2, level=600_000, spacing=2_500, jitter=0.02),
               event_title="S&P 500 price range on {date}?"),
    SeriesSpec("NASDAQ100D", "Nasdaq-100 daily range", "Financials", "stocks", "brackets", 2.0,
               fee_type="quadratic_with_maker_fees", datecode="day", life=(300, 1200), n=(8, 16), exhaustive=1.0,
               underlying=Underlying(decimals=2, level=2_100_000, spacing=10_000, jitter=0.02),
               event_title="Nasdaq-100 price range on {date}?"),
    SeriesSpec("KXINXU", "S&P 500 above", "Financials", "stocks", "ladder", 2.0, grid=_TAPER, datecode="day",
               life=(300, 1200), n=(8, 16),
               underlying=Underlying(decimals=2, level=600_000, spacing=2_500, strike_offset=-1, jitter=0.02),
               event_title="S&P 500 close on {date}?"),
    SeriesSpec("KXNASDAQ100U", "Nasdaq-100 above", "Financials", "stocks", "ladder", 1.5, grid=_TAPER,
               datecode="day", life=(300, 1200), n=(8, 16),
               underlying=Underlying(decimals=2, level=2_100_000, spacing=10_000, strike_offset=-1, jitter=0.02),
               event_title="Nasdaq-100 close on {date}?"),
    SeriesSpec("KXINXPOS", "S&P 500 up or down", "Financials", "stocks", "binary", 1.0, datecode="day",
               life=(300, 1200), event_title="Will the S&P 500 close higher on {date}?"),
    SeriesSpec("KXINXY", "S&P 500 year-end range", "Financials", "stocks", "brackets", 1.0, datecode="year",
               life=(1500, 4000), n=(6, 12), exhaustive=1.0,
               underlying=Underlying(decimals=2, level=600_000, spacing=20_000, jitter=0.05),
               event_title="S&P 500 at the end of {year}?", frequency="annual"),
    # ------------------------------------------------------------------ sports
    SeriesSpec("KXNBAGAME", "Professional Basketball Game", "Sports", "sports", "me", 3.0, datecode="day",
               life=(200, 700), n=(2, 2), pool="nba", pairs=True,
               event_title="{a} vs {b} Winner?", market_title="Will {name} win the {a} vs {b} game?",
               frequency="custom"),
    SeriesSpec("KXNFLGAME", "Professional Football Game", "Sports", "sports", "me", 2.0, datecode="day",
               life=(200, 700), n=(2, 2), pool="nfl", pairs=True,
               event_title="{a} vs {b} Winner?", market_title="Will {name} win the {a} vs {b} game?",
               frequency="custom"),
    SeriesSpec("KXMLBGAME", "Professional Baseball Game", "Sports", "sports", "me", 3.0,
               fee_type="quadratic_with_maker_fees", fee_multiplier=5_000, datecode="day", life=(200, 700),
               n=(2, 2), pool="mlb", pairs=True,
               event_title="{a} vs {b} Winner?", market_title="Will {name} win the {a} vs {b} game?",
               frequency="custom"),
    SeriesSpec("KXWNBAGAME", "Professional Women's Basketball Game", "Sports", "sports", "me", 1.5,
               fee_type="quadratic_with_maker_fees", datecode="day", life=(200, 700), n=(2, 2), pool="wnba",
               pairs=True, event_title="{a} vs {b} Winner?",
               market_title="Will {name} win the {a} vs {b} game?", frequency="custom"),
    SeriesSpec("KXNHLGAME", "Professional Hockey Game", "Sports", "sports", "me", 1.5, datecode="day",
               life=(200, 700), n=(2, 2), pool="nhl", pairs=True,
               event_title="{a} vs {b} Winner?", market_title="Will {name} win the {a} vs {b} game?",
               frequency="custom"),
    SeriesSpec("KXEPLGAME", "English Premier League Game", "Sports", "sports", "me", 2.0, datecode="day",
               life=(200, 700), n=(3, 3), pool="epl", pairs=True, draw=True,
               event_title="{a} vs {b} Winner?", market_title="Will {name} win the {a} vs {b} match?",
               frequency="custom"),
    SeriesSpec("KXATPMATCH", "ATP Tennis Match", "Sports", "sports", "me", 1.5, datecode="day",
               life=(150, 500), n=(2, 2), pool="atp", pairs=True,
               event_title="{a} vs {b} Winner?", market_title="Will {name} win the {a} vs {b} match?",
               frequency="custom"),
    SeriesSpec("KXMLBSPREAD", "Professional Baseball Spread", "Sports", "sports", "ladder", 1.0,
               fee_multiplier=5_000, datecode="day", life=(200, 700), n=(4, 6), pool="mlb", pairs=True,
               underlying=Underlying(decimals=0, level=1, spacing=1, half_strikes=True, unit=" runs", jitter=0.0),
               event_title="{a} vs {b}: {a} wins by over K runs?", frequency="custom"),
    SeriesSpec("KXNBATOTAL", "Professional Basketball Total Points", "Sports", "sports", "ladder", 1.5,
               datecode="day", life=(200, 700), n=(6, 12), pool="nba", pairs=True,
               underlying=Underlying(decimals=0, level=224, spacing=3, half_strikes=True, unit=" points",
                                     jitter=0.02),
               event_title="{a} vs {b}: total points over K?", frequency="custom"),
    SeriesSpec("KXNBA", "Pro Basketball Champion", "Sports", "sports", "me", 0.5, datecode="year",
               life=(1500, 4000), n=(8, 16), exhaustive=0.0, pool="nba",
               event_title="Who will win the Pro Basketball Finals in {year}?",
               market_title="Will the {name} win the Pro Basketball Finals in {year}?", frequency="annual"),
    SeriesSpec("KXMVENFLSINGLEGAME", "NFL single-game combos", "Sports", "sports", "combo", 0.7,
               fee_type="quadratic_with_combo_maker_fees", grid=_DECI, datecode="day", life=(200, 700),
               pool="nfl", pairs=True, event_title="yes {a},yes {b} under {k}.5 points", binary_suffix="",
               frequency="custom"),
    # ------------------------------------------------------------------ economics
    SeriesSpec("KXCPI", "CPI month over month", "Economics", "economics", "ladder", 2.0, datecode="month",
               life=(600, 2000), n=(8, 11),
               underlying=Underlying(decimals=1, level=3, spacing=1, unit="%", jitter=0.0),
               event_title="CPI change in {month}?", frequency="monthly"),
    SeriesSpec("KXCPIYOY", "CPI year over year", "Economics", "economics", "ladder", 1.5, datecode="month",
               life=(600, 2000), n=(6, 10),
               underlying=Underlying(decimals=1, level=28, spacing=1, unit="%", jitter=0.0),
               event_title="CPI year-over-year in {month}?", frequency="monthly"),
    SeriesSpec("KXPAYROLLS", "Nonfarm payrolls", "Economics", "economics", "ladder", 1.5, datecode="month",
               life=(600, 2000), n=(6, 12),
               underlying=Underlying(decimals=0, level=150, spacing=25, label_scale=1000, unit=" jobs",
                                     jitter=0.1),
               event_title="Jobs added in {month}?", frequency="monthly"),
    SeriesSpec("KXGDP", "GDP growth", "Economics", "economics", "ladder", 1.0, datecode="month",
               life=(800, 2500), n=(6, 10),
               underlying=Underlying(decimals=1, level=20, spacing=5, unit="%", jitter=0.1),
               event_title="GDP growth in {quarter}?", frequency="quarterly"),
    SeriesSpec("KXFEDDECISION", "Fed rate decision", "Economics", "economics", "me", 2.0, datecode="month",
               life=(600, 2500), n=(5, 5), pool="fed",
               event_title="Fed decision in {month}?",
               market_title="Will the Federal Reserve {name} at the {month} meeting?", frequency="custom"),
    SeriesSpec("KXUNRATE", "Unemployment rate", "Economics", "economics", "brackets", 1.5, datecode="month",
               life=(600, 2000), n=(5, 9), exhaustive=1.0,
               underlying=Underlying(decimals=1, level=42, spacing=1, unit="%", jitter=0.0),
               event_title="Unemployment rate in {month}?", frequency="monthly"),
    SeriesSpec("KXRECSSNBER", "Recession", "Economics", "economics", "binary", 1.0, datecode="year",
               life=(1500, 4000), event_title="Will the NBER declare a recession in {year}?", frequency="annual"),
    # ------------------------------------------------------------------ weather
    SeriesSpec("KXHIGH{m}", "Highest temperature in {name}", "Climate and Weather", "weather", "brackets", 5.0,
               members=_CITIES_HIGH, datecode="day", life=(300, 1500), n=(4, 6), exhaustive=1.0,
               underlying=Underlying(decimals=0, level=0, spacing=2, unit="°", jitter=0.0),
               event_title="Highest temperature in {member} on {date}?"),
    SeriesSpec("KXLOW{m}", "Lowest temperature in {name}", "Climate and Weather", "weather", "brackets", 2.5,
               members=_CITIES_LOW, datecode="day", life=(300, 1500), n=(4, 6), exhaustive=1.0,
               underlying=Underlying(decimals=0, level=0, spacing=2, unit="°", jitter=0.0),
               event_title="Lowest temperature in {member} on {date}?"),
    SeriesSpec("KXRAIN{m}M", "Monthly rain in {name}", "Climate and Weather", "weather", "ladder", 1.5,
               members=_CITIES_RAIN, datecode="month", life=(800, 2500), n=(6, 10),
               underlying=Underlying(decimals=1, level=0, spacing=5, unit=" inches", jitter=0.0),
               event_title="Rain in {member} in {month}?", frequency="monthly"),
    SeriesSpec("KXHURLAND", "Hurricane landfall", "Climate and Weather", "weather", "binary", 0.7,
               datecode="month", life=(800, 2500), event_title="Will a hurricane make US landfall in {month}?",
               frequency="monthly"),
)
# fmt: on

POOLS: dict[str, tuple[tuple[str, str], ...]] = {
    "parties": (("D", "Democratic Party"), ("R", "Republican Party"), ("I", "independent candidate")),
    "fed": (
        ("H26", "hike by more than 25bps"),
        ("H25", "hike by 25bps"),
        ("H0", "hold rates"),
        ("C25", "cut by 25bps"),
        ("C26", "cut by more than 25bps"),
    ),
    "candidates": tuple(
        (code, name)
        for code, name in (
            ("AMOR", "Avery Morgan"),
            ("JREY", "Jordan Reyes"),
            ("CHAL", "Casey Hale"),
            ("RPAT", "Riley Patel"),
            ("TKIM", "Taylor Kim"),
            ("MOKA", "Morgan Okafor"),
            ("SLIN", "Sam Lindqvist"),
            ("DBRO", "Dana Brooks"),
            ("QNGU", "Quinn Nguyen"),
            ("PFER", "Parker Ferreira"),
            ("EWAL", "Emerson Walsh"),
            ("HSAT", "Harper Sato"),
            ("LBEN", "Logan Bennett"),
            ("RCAS", "Rowan Castillo"),
            ("SABE", "Sage Abernathy"),
            ("KDUV", "Kai Duval"),
            ("BMER", "Blake Mercer"),
            ("FIVE", "Finley Ivers"),
        )
    ),
    "nba": (
        ("LAL", "Los Angeles L"),
        ("BOS", "Boston"),
        ("GSW", "Golden State"),
        ("MIL", "Milwaukee"),
        ("DEN", "Denver"),
        ("PHX", "Phoenix"),
        ("MIA", "Miami"),
        ("NYK", "New York K"),
        ("DAL", "Dallas"),
        ("PHI", "Philadelphia"),
        ("OKC", "Oklahoma City"),
        ("MIN", "Minnesota"),
        ("CLE", "Cleveland"),
        ("SAC", "Sacramento"),
        ("IND", "Indiana"),
        ("ORL", "Orlando"),
    ),
    "wnba": (
        ("LVA", "Las Vegas"),
        ("NYL", "New York L"),
        ("CON", "Connecticut"),
        ("MIN", "Minnesota"),
        ("SEA", "Seattle"),
        ("PHX", "Phoenix"),
        ("CHI", "Chicago"),
        ("IND", "Indiana"),
        ("ATL", "Atlanta"),
        ("DAL", "Dallas"),
        ("WAS", "Washington"),
        ("GSV", "Golden State"),
    ),
    "nfl": (
        ("KC", "Kansas City"),
        ("BUF", "Buffalo"),
        ("PHI", "Philadelphia"),
        ("SF", "San Francisco"),
        ("DAL", "Dallas"),
        ("BAL", "Baltimore"),
        ("DET", "Detroit"),
        ("GB", "Green Bay"),
        ("PIT", "Pittsburgh"),
        ("HOU", "Houston"),
        ("MIA", "Miami"),
        ("CIN", "Cincinnati"),
        ("SEA", "Seattle"),
        ("LAR", "Los Angeles R"),
        ("MIN", "Minnesota"),
        ("TB", "Tampa Bay"),
    ),
    "mlb": (
        ("NYY", "New York Y"),
        ("LAD", "Los Angeles D"),
        ("ATL", "Atlanta"),
        ("HOU", "Houston"),
        ("PHI", "Philadelphia"),
        ("TOR", "Toronto"),
        ("BOS", "Boston"),
        ("SD", "San Diego"),
        ("SEA", "Seattle"),
        ("TB", "Tampa Bay"),
        ("MIL", "Milwaukee"),
        ("NYM", "New York M"),
        ("MIN", "Minnesota"),
        ("PIT", "Pittsburgh"),
        ("MIA", "Miami"),
        ("AZ", "Arizona"),
    ),
    "nhl": (
        ("EDM", "Edmonton"),
        ("FLA", "Florida"),
        ("NYR", "New York R"),
        ("DAL", "Dallas"),
        ("COL", "Colorado"),
        ("BOS", "Boston"),
        ("VGK", "Vegas"),
        ("TOR", "Toronto"),
        ("CAR", "Carolina"),
        ("WPG", "Winnipeg"),
        ("VAN", "Vancouver"),
        ("NJ", "New Jersey"),
    ),
    "epl": (
        ("ARS", "Arsenal"),
        ("MCI", "Manchester City"),
        ("LIV", "Liverpool"),
        ("CHE", "Chelsea"),
        ("TOT", "Tottenham"),
        ("MUN", "Manchester United"),
        ("NEW", "Newcastle"),
        ("AVL", "Aston Villa"),
        ("BHA", "Brighton"),
        ("WHU", "West Ham"),
        ("FUL", "Fulham"),
        ("BRE", "Brentford"),
    ),
    "atp": (
        ("ALVA", "A. Valdez"),
        ("BKOR", "B. Korhonen"),
        ("CMAR", "C. Marchetti"),
        ("DHAL", "D. Halvorsen"),
        ("EOKO", "E. Okoye"),
        ("FDUB", "F. Dubois"),
        ("GSAN", "G. Santoro"),
        ("HIVA", "H. Ivanov"),
        ("IMUR", "I. Murata"),
        ("JQUI", "J. Quintero"),
        ("KBER", "K. Bergstrom"),
        ("LNAS", "L. Nasser"),
    ),
}

GRID_NAMES = (_CENT, _TAPER, _DECI)
