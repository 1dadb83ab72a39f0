"""Reference vocabularies the persona model draws from: names, places, domains, catalogue.

Plain tuples, no randomness: every draw happens in the caller with the chunk's ``random.Random``.
Phones are North-American (region ``US``): the area codes below were checked with
``phonenumbers.is_valid_number`` (see ``tests/unit/generate/test_people.py``).
"""

from __future__ import annotations

FIRST_NAMES_F = (
    "Mary", "Patricia", "Jennifer", "Linda", "Elizabeth", "Barbara", "Susan", "Jessica", "Sarah",
    "Karen", "Lisa", "Nancy", "Betty", "Margaret", "Sandra", "Ashley", "Kimberly", "Emily", "Donna",
    "Michelle", "Carol", "Amanda", "Dorothy", "Melissa", "Deborah", "Stephanie", "Rebecca", "Sharon",
    "Laura", "Cynthia", "Kathleen", "Amy", "Angela", "Shirley", "Anna", "Brenda", "Pamela", "Emma",
    "Nicole", "Helen", "Samantha", "Katherine", "Christine", "Debra", "Rachel", "Carolyn", "Janet",
    "Catherine", "Maria", "Heather", "Diane", "Ruth", "Julie", "Olivia", "Joyce", "Virginia",
    "Victoria", "Kelly", "Lauren", "Christina", "Joan", "Evelyn", "Judith", "Megan", "Andrea",
    "Cheryl", "Hannah", "Jacqueline", "Martha", "Gloria", "Teresa", "Ann", "Sara", "Madison",
    "Frances", "Kathryn", "Janice", "Jean", "Abigail", "Alice", "Julia", "Judy", "Sophia", "Grace",
    "Denise", "Amber", "Doris", "Marilyn", "Danielle", "Beverly", "Isabella", "Theresa", "Diana",
    "Natalie", "Brittany", "Charlotte", "Marie", "Kayla", "Alexis", "Lori", "Lucia", "Mei", "Priya",
    "Aaliyah", "Fatima", "Yuki", "Ana", "Camila", "Valentina", "Zoe", "Chloe", "Nora", "Leah",
)
FIRST_NAMES_M = (
    "James", "Robert", "John", "Michael", "David", "William", "Richard", "Joseph", "Thomas",
    "Christopher", "Charles", "Daniel", "Matthew", "Anthony", "Mark", "Donald", "Steven", "Andrew",
    "Paul", "Joshua", "Kenneth", "Kevin", "Brian", "George", "Timothy", "Ronald", "Jason", "Edward",
    "Jeffrey", "Ryan", "Jacob", "Gary", "Nicholas", "Eric", "Jonathan", "Stephen", "Larry", "Justin",
    "Scott", "Brandon", "Benjamin", "Samuel", "Gregory", "Alexander", "Patrick", "Frank", "Raymond",
    "Jack", "Dennis", "Jerry", "Tyler", "Aaron", "Jose", "Adam", "Nathan", "Henry", "Zachary",
    "Douglas", "Peter", "Kyle", "Noah", "Ethan", "Jeremy", "Walter", "Christian", "Keith", "Roger",
    "Terry", "Austin", "Sean", "Gerald", "Carl", "Harold", "Dylan", "Arthur", "Lawrence", "Jordan",
    "Jesse", "Bryan", "Billy", "Bruce", "Gabriel", "Joe", "Logan", "Alan", "Juan", "Albert",
    "Willie", "Elijah", "Wayne", "Randy", "Vincent", "Mason", "Roy", "Ralph", "Bobby", "Russell",
    "Bradley", "Philip", "Eugene", "Luis", "Carlos", "Wei", "Hiroshi", "Arjun", "Omar", "Mohammed",
    "Diego", "Mateo", "Liam", "Lucas", "Oliver", "Hugo", "Ivan", "Tariq", "Kwame", "Dmitri",
)
LAST_NAMES = (
    "Smith", "Johnson", "Williams", "Brown", "Jones", "Garcia", "Miller", "Davis", "Rodriguez",
    "Martinez", "Hernandez", "Lopez", "Gonzalez", "Wilson", "Anderson", "Thomas", "Taylor", "Moore",
    "Jackson", "Martin", "Lee", "Perez", "Thompson", "White", "Harris", "Sanchez", "Clark",
    "Ramirez", "Lewis", "Robinson", "Walker", "Young", "Allen", "King", "Wright", "Scott", "Torres",
    "Nguyen", "Hill", "Flores", "Green", "Adams", "Nelson", "Baker", "Hall", "Rivera", "Campbell",
    "Mitchell", "Carter", "Roberts", "Gomez", "Phillips", "Evans", "Turner", "Diaz", "Parker",
    "Cruz", "Edwards", "Collins", "Reyes", "Stewart", "Morris", "Morales", "Murphy", "Cook",
    "Rogers", "Gutierrez", "Ortiz", "Morgan", "Cooper", "Peterson", "Bailey", "Reed", "Kelly",
    "Howard", "Ramos", "Kim", "Cox", "Ward", "Richardson", "Watson", "Brooks", "Chavez", "Wood",
    "James", "Bennett", "Gray", "Mendoza", "Ruiz", "Hughes", "Price", "Alvarez", "Castillo",
    "Sanders", "Patel", "Myers", "Long", "Ross", "Foster", "Jimenez", "Powell", "Jenkins", "Perry",
    "Russell", "Sullivan", "Bell", "Coleman", "Butler", "Henderson", "Barnes", "Gonzales", "Fisher",
    "Vasquez", "Simmons", "Romero", "Jordan", "Patterson", "Alexander", "Hamilton", "Graham",
    "Reynolds", "Griffin", "Wallace", "Moreno", "West", "Cole", "Hayes", "Bryant", "Herrera",
    "Gibson", "Ellis", "Tran", "Medina", "Aguilar", "Stevens", "Murray", "Ford", "Castro", "Marshall",
    "Owens", "Harrison", "Fernandez", "McDonald", "Woods", "Washington", "Kennedy", "Wells",
    "Vargas", "Henry", "Chen", "Freeman", "Webb", "Tucker", "Guzman", "Burns", "Crawford", "Olson",
    "Simpson", "Porter", "Hunter", "Gordon", "Mendez", "Silva", "Shaw", "Snyder", "Mason", "Dixon",
    "O'Brien", "O'Connor", "Wang", "Li", "Zhang", "Singh", "Kowalski", "Novak", "Schmidt", "Rossi",
)

STREET_NAMES = (
    "Main", "Oak", "Pine", "Maple", "Cedar", "Elm", "Washington", "Lake", "Hill", "Park", "Walnut",
    "Sunset", "Lincoln", "Jefferson", "Highland", "Madison", "Church", "Willow", "River", "Spring",
    "Meadow", "Forest", "Chestnut", "Franklin", "Jackson", "Adams", "Ridge", "Valley", "Mill",
    "Center", "Dogwood", "Birch", "Lakeview", "Cherry", "Hickory", "Magnolia", "Sycamore", "Bay",
)
STREET_SUFFIXES = (
    ("Street", "St"), ("Avenue", "Ave"), ("Road", "Rd"), ("Drive", "Dr"), ("Lane", "Ln"),
    ("Boulevard", "Blvd"), ("Court", "Ct"), ("Place", "Pl"), ("Way", "Way"), ("Terrace", "Ter"),
)
# (city, state, first three digits of the ZIP code)
CITIES = (
    ("New York", "NY", "100"), ("Brooklyn", "NY", "112"), ("Los Angeles", "CA", "900"),
    ("Chicago", "IL", "606"), ("Houston", "TX", "770"), ("Phoenix", "AZ", "850"),
    ("Philadelphia", "PA", "191"), ("San Antonio", "TX", "782"), ("San Diego", "CA", "921"),
    ("Dallas", "TX", "752"), ("Austin", "TX", "787"), ("Jacksonville", "FL", "322"),
    ("Columbus", "OH", "432"), ("Charlotte", "NC", "282"), ("Indianapolis", "IN", "462"),
    ("San Francisco", "CA", "941"), ("Seattle", "WA", "981"), ("Denver", "CO", "802"),
    ("Boston", "MA", "021"), ("Nashville", "TN", "372"), ("Portland", "OR", "972"),
    ("Las Vegas", "NV", "891"), ("Detroit", "MI", "482"), ("Memphis", "TN", "381"),
    ("Baltimore", "MD", "212"), ("Milwaukee", "WI", "532"), ("Albuquerque", "NM", "871"),
    ("Tucson", "AZ", "857"), ("Sacramento", "CA", "958"), ("Atlanta", "GA", "303"),
    ("Miami", "FL", "331"), ("Minneapolis", "MN", "554"), ("Cleveland", "OH", "441"),
    ("Tampa", "FL", "336"), ("Pittsburgh", "PA", "152"), ("St. Louis", "MO", "631"),
    ("Orlando", "FL", "328"), ("Raleigh", "NC", "276"), ("Salt Lake City", "UT", "841"),
    ("Richmond", "VA", "232"),
)

EMAIL_DOMAINS = (
    ("gmail.com", 40), ("yahoo.com", 12), ("outlook.com", 10), ("hotmail.com", 9),
    ("icloud.com", 10), ("aol.com", 4), ("comcast.net", 4), ("proton.me", 3), ("msn.com", 2),
    ("acme-corp.com", 2), ("globex.com", 2), ("initech.com", 1), ("umbrella-health.org", 1),
)
# realistic mistyped domains, used by the "e-mail domain typo" noise
DOMAIN_TYPOS = {
    "gmail.com": ("gmial.com", "gmai.com", "gmail.co", "gnail.com"),
    "yahoo.com": ("yaho.com", "yahooo.com", "yahoo.co"),
    "outlook.com": ("outlok.com", "outlook.co"),
    "hotmail.com": ("hotmial.com", "hotmail.co", "hotmal.com"),
    "icloud.com": ("iclod.com", "icloud.co"),
}

# North-American area codes; every one validated with phonenumbers (region US)
AREA_CODES = (
    201, 202, 203, 205, 206, 207, 208, 209, 210, 212, 213, 214, 215, 216, 217, 218, 219, 224, 225,
    228, 229, 231, 234, 239, 240, 248, 251, 252, 253, 254, 256, 260, 262, 267, 269, 270, 272, 276,
    281, 301, 302, 303, 304, 305, 307, 308, 309, 310, 312, 313, 314, 315, 316, 317, 318, 319, 320,
    321, 323, 325, 330, 331, 334, 336, 337, 339, 346, 347, 351, 352, 360, 361, 385, 386, 401, 402,
    404, 405, 406, 407, 408, 409, 410, 412, 413, 414, 415, 417, 419, 423, 424, 425, 430, 432, 434,
    435, 440, 442, 443, 469, 470, 475, 478, 479, 480, 484, 501, 502, 503, 504, 505, 507, 508, 509,
    510, 512, 513, 515, 516, 517, 518, 520, 530, 540, 541, 551, 559, 561, 562, 563, 567, 570, 571,
    573, 574, 575, 580, 585, 586, 601, 602, 603, 605, 606, 607, 608, 609, 610, 612, 614, 615, 616,
    617, 618, 619, 620, 623, 626, 630, 631, 636, 641, 646, 650, 651, 660, 661, 662, 678, 682, 701,
    702, 703, 704, 706, 707, 708, 712, 713, 714, 715, 716, 717, 718, 719, 720, 724, 727, 731, 732,
    734, 740, 754, 757, 760, 762, 763, 765, 770, 772, 773, 774, 775, 781, 785, 786, 801, 802, 803,
    804, 805, 806, 808, 810, 812, 813, 814, 815, 816, 817, 818, 828, 830, 831, 832, 843, 845, 847,
    848, 850, 856, 857, 858, 859, 860, 862, 863, 864, 865, 870, 872, 878, 901, 903, 904, 906, 907,
    908, 909, 910, 912, 913, 914, 915, 916, 917, 918, 919, 920, 925, 928, 931, 936, 937, 940, 941,
    947, 949, 951, 952, 954, 956, 970, 971, 972, 973, 978, 979, 980, 985, 989,
)
# central-office codes: 200-999 without N11 service codes and the fictional 555
EXCHANGES = tuple(e for e in range(200, 1000) if e % 100 != 11 and e != 555)

# billing plans of a triple-play telco: (plan, monthly amount in USD)
PLANS = (
    ("Mobile S", 25.0), ("Mobile M", 40.0), ("Mobile L", 60.0), ("Fiber 300", 45.0),
    ("Fiber 1G", 70.0), ("TV Essentials", 35.0), ("Fiber + TV", 95.0), ("Triple Play", 130.0),
)
PAYMENT_METHODS = ("direct_debit", "card", "bank_transfer", "cash")
LOYALTY_TIERS = (("Blue", 60), ("Silver", 25), ("Gold", 11), ("Platinum", 4))

CONTACT_REASONS = (
    ("billing_question", 22), ("technical_issue", 20), ("plan_change", 10), ("payment", 9),
    ("cancellation", 6), ("complaint", 6), ("new_service", 6), ("address_change", 4),
    ("loyalty_points", 7), ("roaming", 3), ("password_reset", 5), ("device_support", 2),
)
CONTACT_OUTCOMES = (("resolved", 70), ("transferred", 12), ("callback", 10), ("escalated", 8))
CONTACT_QUEUES = ("general", "billing", "tech_support", "retention", "loyalty", "sales")

WEB_PAGES = (
    "/", "/plans", "/plans/mobile", "/plans/fiber", "/plans/tv", "/offers", "/offers/summer",
    "/devices", "/devices/phones", "/devices/routers", "/support", "/support/faq",
    "/support/outages", "/stores", "/rewards", "/rewards/catalogue", "/blog/5g-explained",
    "/account", "/account/bill", "/account/usage", "/account/settings",
)
APP_SCREENS = (
    "home", "usage", "bill", "pay_bill", "plans", "offers", "rewards", "support_chat",
    "settings", "roaming", "store_locator", "device_shop",
)
PRODUCTS = (
    ("add-on-data-10gb", 15.0), ("add-on-roaming-week", 12.0), ("router-wifi6", 129.0),
    ("phone-case", 24.99), ("tv-sports-pack", 19.99), ("phone-midrange", 349.0),
    ("phone-flagship", 999.0), ("earbuds", 79.0), ("movie-rental", 4.99), ("gift-card-50", 50.0),
)
USER_AGENTS = (
    "Mozilla/5.0 (Windows NT 10.0; Win64; x64) Chrome/128.0",
    "Mozilla/5.0 (Macintosh; Intel Mac OS X 14_5) Safari/17.5",
    "Mozilla/5.0 (iPhone; CPU iPhone OS 17_5 like Mac OS X) Mobile/15E148 Safari/604.1",
    "Mozilla/5.0 (Linux; Android 14; Pixel 8) Chrome/128.0 Mobile",
    "Mozilla/5.0 (X11; Linux x86_64; rv:129.0) Firefox/129.0",
    "Mozilla/5.0 (Windows NT 10.0; Win64; x64) Edg/128.0",
)
APP_VERSIONS = ("5.12.0", "5.12.1", "5.13.0", "5.14.2", "6.0.0")
CAMPAIGN_THEMES = (
    "newsletter", "fiber-upgrade", "mobile-offer", "rewards-double-points", "tv-sports",
    "bill-reminder", "device-sale", "winback", "survey", "referral",
)
