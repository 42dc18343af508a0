//! Embedded word lists the generator draws from. All entries are plain ASCII with nothing a
//! JSON string would need to escape (a test checks), so they are copied into bodies verbatim.

pub(crate) const MALE_FIRST_NAMES: &[&str] = &[
    "Aaron", "Adam", "Adrian", "Alan", "Albert", "Alec", "Alexander", "Alfred", "Andre", "Andrew",
    "Anthony", "Arthur", "Austin", "Barry", "Ben", "Benjamin", "Bernard", "Blake", "Brad", "Brandon",
    "Brian", "Bruce", "Bryce", "Caleb", "Carl", "Carlos", "Chad", "Charles", "Chris", "Christian",
    "Clark", "Cole", "Colin", "Connor", "Curtis", "Dale", "Damian", "Daniel", "Darren", "David",
    "Dean", "Dennis", "Derek", "Dominic", "Donald", "Douglas", "Dylan", "Edgar", "Edward", "Elliot",
    "Emil", "Eric", "Ethan", "Evan", "Felix", "Floyd", "Francis", "Frank", "Gabriel", "Gary",
    "George", "Gerald", "Gilbert", "Glen", "Gordon", "Grant", "Gregory", "Harold", "Harry", "Henry",
    "Howard", "Hugo", "Ian", "Isaac", "Ivan", "Jack", "Jacob", "James", "Jason", "Jeffrey",
    "Jerome", "Jesse", "Joel", "John", "Jonas", "Jordan", "Joseph", "Joshua", "Julian", "Justin",
    "Keith", "Kenneth", "Kevin", "Kyle", "Lance", "Larry", "Leo", "Leon", "Liam", "Logan",
    "Lucas", "Luke", "Marcus", "Mario", "Mark", "Martin", "Mason", "Matthew", "Max", "Michael",
    "Miles", "Mitchell", "Nathan", "Neil", "Nicholas", "Noah", "Oliver", "Omar", "Oscar", "Owen",
    "Patrick", "Paul", "Peter", "Philip", "Quentin", "Ralph", "Randy", "Raymond", "Richard", "Robert",
    "Roger", "Ronald", "Ross", "Roy", "Russell", "Ryan", "Samuel", "Scott", "Sean", "Seth",
    "Simon", "Stanley", "Stephen", "Steven", "Theo", "Thomas", "Timothy", "Tobias", "Todd", "Travis",
    "Trevor", "Tyler", "Victor", "Vincent", "Walter", "Warren", "Wayne", "Wesley", "William", "Zack",
];

pub(crate) const FEMALE_FIRST_NAMES: &[&str] = &[
    "Abigail", "Ada", "Adele", "Agnes", "Alice", "Alicia", "Alison", "Amanda", "Amber", "Amelia",
    "Amy", "Andrea", "Angela", "Anna", "Annie", "April", "Ava", "Barbara", "Beatrice", "Bella",
    "Bethany", "Bianca", "Brenda", "Brooke", "Camila", "Carla", "Carmen", "Caroline", "Cassandra", "Catherine",
    "Charlotte", "Chloe", "Claire", "Clara", "Courtney", "Cynthia", "Daisy", "Dana", "Daphne", "Deborah",
    "Diana", "Donna", "Dora", "Edith", "Eleanor", "Elena", "Eliza", "Ella", "Emily", "Emma",
    "Erica", "Esther", "Eva", "Evelyn", "Faith", "Fiona", "Florence", "Gabriella", "Gemma", "Georgia",
    "Grace", "Hannah", "Harper", "Hazel", "Heather", "Helen", "Holly", "Ida", "Irene", "Iris",
    "Isabel", "Ivy", "Jade", "Jane", "Janet", "Jasmine", "Jennifer", "Jessica", "Joan", "Josephine",
    "Joy", "Judith", "Julia", "June", "Karen", "Kate", "Katherine", "Kayla", "Kelly", "Kimberly",
    "Laura", "Lauren", "Leah", "Lily", "Linda", "Lisa", "Lucy", "Lydia", "Mabel", "Madeline",
    "Maria", "Marion", "Martha", "Mary", "Maya", "Megan", "Melissa", "Mia", "Michelle", "Mila",
    "Miranda", "Molly", "Nancy", "Naomi", "Natalie", "Nina", "Nora", "Olive", "Olivia", "Paige",
    "Pamela", "Patricia", "Paula", "Pearl", "Penelope", "Phoebe", "Rachel", "Rebecca", "Rita", "Rose",
    "Ruby", "Ruth", "Sabrina", "Sadie", "Samantha", "Sandra", "Sara", "Scarlett", "Sharon", "Sophia",
    "Stella", "Susan", "Sylvia", "Tara", "Teresa", "Tiffany", "Valerie", "Vanessa", "Vera", "Victoria",
    "Violet", "Virginia", "Wendy", "Whitney", "Willow", "Yvonne", "Zoe", "Vernice", "Lorna", "Maud",
];

pub(crate) const LAST_NAMES: &[&str] = &[
    "Abbott", "Adams", "Anderson", "Armstrong", "Bailey", "Baker", "Barnes", "Bartoletti", "Bauch", "Becker",
    "Bednar", "Bell", "Bergstrom", "Bernhard", "Boehm", "Bosco", "Boyer", "Brakus", "Brown", "Bruen",
    "Campbell", "Carroll", "Carter", "Cassin", "Clark", "Collins", "Conn", "Cooper", "Cormier", "Cronin",
    "Cummings", "Dach", "Daniel", "Davis", "Dickens", "Dietrich", "Douglas", "Durgan", "Ebert", "Edwards",
    "Emard", "Erdman", "Evans", "Fadel", "Fahey", "Feeney", "Ferry", "Fisher", "Flatley", "Fritsch",
    "Gerhold", "Gibson", "Gleason", "Goodwin", "Gorczany", "Grady", "Graham", "Green", "Gutmann", "Hackett",
    "Hahn", "Hall", "Hamill", "Hansen", "Harris", "Hartmann", "Hayes", "Heaney", "Hermann", "Hill",
    "Hoppe", "Howell", "Hudson", "Jacobs", "Jakubowski", "Jenkins", "Johnson", "Jones", "Kautzer", "Keebler",
    "Kemmer", "Kessler", "King", "Kirlin", "Klein", "Koch", "Kuhn", "Kunze", "Lakin", "Langosh",
    "Larson", "Lebsack", "Leffler", "Lewis", "Lind", "Lowe", "Lubowitz", "Mann", "Marks", "Martin",
    "Mayer", "McKenzie", "Miller", "Mills", "Mitchell", "Moore", "Morar", "Morgan", "Muller", "Murphy",
    "Nader", "Nelson", "Nicolas", "Nolan", "Okuneva", "Olson", "Ortiz", "Parker", "Pfeffer", "Powlowski",
    "Price", "Prosacco", "Quigley", "Reilly", "Reynolds", "Ritchie", "Roberts", "Robinson", "Rogers", "Rohan",
    "Rolfson", "Runolfsson", "Russel", "Ryan", "Sanford", "Schmidt", "Schultz", "Scott", "Shields", "Smith",
    "Spencer", "Stanton", "Stark", "Stewart", "Stokes", "Swift", "Taylor", "Thomas", "Thompson", "Torphy",
    "Towne", "Turner", "Volkman", "Walker", "Walsh", "Ward", "Watson", "White", "Williamson", "Wilson",
    "Wisoky", "Wolf", "Wood", "Wright", "Wyman", "Young", "Zboncak", "Zemlak", "Ziemann", "Zulauf",
];

pub(crate) const STREET_SUFFIXES: &[&str] = &[
    "Street", "Avenue", "Road", "Lane", "Drive", "Court", "Place", "Boulevard", "Way", "Terrace",
    "Square", "Parkway", "Circle", "Trail", "Crossing", "Hills", "Park", "Ridge", "Row", "Walk",
];

pub(crate) const CITIES: &[&str] = &[
    "Springfield", "Riverside", "Franklin", "Greenville", "Bristol", "Clinton", "Fairview", "Salem",
    "Madison", "Georgetown", "Arlington", "Ashland", "Burlington", "Chester", "Dayton", "Dover",
    "Hudson", "Jackson", "Kingston", "Lebanon", "Manchester", "Marion", "Milford", "Milton",
    "Newport", "Oakland", "Oxford", "Plymouth", "Richmond", "Shelby", "Troy", "Winchester",
    "Lake Ethan", "Port Alyssa", "North Caleb", "East Marion", "West Oliver", "South Hazel",
    "New Aaron", "Lake Nora", "Port Lucas", "North Maya", "East Julian", "West Ivy", "Austin",
    "Boston", "Chicago", "Denver", "Houston", "Miami", "Portland", "Seattle", "Phoenix", "Omaha",
    "Tulsa", "Tucson", "Fresno", "Reno", "Boise", "Albany", "Akron", "Provo", "Eugene", "Laredo",
];

/// ISO 3166-1 alpha-2 codes with English country names.
pub(crate) const COUNTRIES: &[(&str, &str)] = &[
    ("AR", "Argentina"), ("AT", "Austria"), ("AU", "Australia"), ("BE", "Belgium"), ("BG", "Bulgaria"),
    ("BR", "Brazil"), ("CA", "Canada"), ("CH", "Switzerland"), ("CL", "Chile"), ("CN", "China"),
    ("CO", "Colombia"), ("CZ", "Czech Republic"), ("DE", "Germany"), ("DK", "Denmark"), ("EE", "Estonia"),
    ("EG", "Egypt"), ("ES", "Spain"), ("FI", "Finland"), ("FR", "France"), ("GB", "United Kingdom"),
    ("GR", "Greece"), ("HR", "Croatia"), ("HU", "Hungary"), ("ID", "Indonesia"), ("IE", "Ireland"),
    ("IL", "Israel"), ("IN", "India"), ("IS", "Iceland"), ("IT", "Italy"), ("JP", "Japan"),
    ("KE", "Kenya"), ("KR", "South Korea"), ("LT", "Lithuania"), ("LU", "Luxembourg"), ("LV", "Latvia"),
    ("MA", "Morocco"), ("MX", "Mexico"), ("MY", "Malaysia"), ("NG", "Nigeria"), ("NL", "Netherlands"),
    ("NO", "Norway"), ("NZ", "New Zealand"), ("PE", "Peru"), ("PH", "Philippines"), ("PL", "Poland"),
    ("PT", "Portugal"), ("RO", "Romania"), ("RS", "Serbia"), ("SE", "Sweden"), ("SG", "Singapore"),
    ("SI", "Slovenia"), ("SK", "Slovakia"), ("TH", "Thailand"), ("TR", "Turkey"), ("UA", "Ukraine"),
    ("US", "United States of America"), ("UY", "Uruguay"), ("VN", "Vietnam"), ("ZA", "South Africa"),
    ("MT", "Malta"),
];

pub(crate) const STATES: &[&str] = &[
    "Alabama", "Alaska", "Arizona", "Arkansas", "California", "Colorado", "Connecticut", "Delaware",
    "Florida", "Georgia", "Hawaii", "Idaho", "Illinois", "Indiana", "Iowa", "Kansas", "Kentucky",
    "Louisiana", "Maine", "Maryland", "Massachusetts", "Michigan", "Minnesota", "Mississippi",
    "Missouri", "Montana", "Nebraska", "Nevada", "New Hampshire", "New Jersey", "New Mexico",
    "New York", "North Carolina", "North Dakota", "Ohio", "Oklahoma", "Oregon", "Pennsylvania",
    "Rhode Island", "South Carolina", "South Dakota", "Tennessee", "Texas", "Utah", "Vermont",
    "Virginia", "Washington", "West Virginia", "Wisconsin", "Wyoming",
];

pub(crate) const COMPANY_SUFFIXES: &[&str] = &["Inc", "LLC", "Ltd", "Group", "PLC", "and Sons", "Corp", "GmbH"];

pub(crate) const FREE_EMAIL_DOMAINS: &[&str] =
    &["gmail.com", "yahoo.com", "hotmail.com", "outlook.com", "proton.me", "icloud.com", "mail.com"];

pub(crate) const TLDS: &[&str] = &["com", "net", "org", "biz", "info", "io", "co"];

pub(crate) const GENRES: &[&str] = &[
    "Fantasy", "Science Fiction", "Mystery", "Thriller", "Romance", "Horror", "Historical Fiction",
    "Biography", "Poetry", "Adventure", "Drama", "Comedy", "Crime", "Young Adult", "Dystopian",
    "Non-fiction", "Memoir", "Self-help", "Western", "Satire",
];

pub(crate) const PUBLISHERS: &[&str] = &[
    "Penguin Books", "HarperCollins", "Simon and Schuster", "Macmillan", "Hachette", "Random House",
    "Scholastic", "Bloomsbury", "Oxford University Press", "Vintage", "Faber and Faber", "Tor Books",
    "Orbit", "Del Rey", "Little, Brown", "Zanichelli", "Mondadori", "Feltrinelli", "Einaudi", "Wiley",
];

/// Placeimg's categories, which the upstream's `_type` accepts.
pub(crate) const IMAGE_TYPES: &[&str] =
    &["any", "animals", "architecture", "nature", "people", "tech", "kittens"];

pub(crate) const CARD_TYPES: &[&str] = &["Visa", "MasterCard", "American Express", "Discover Card", "Visa Retired"];

pub(crate) const LOREM: &[&str] = &[
    "a", "ab", "accusamus", "accusantium", "ad", "adipisci", "alias", "aliquam", "aliquid", "amet",
    "animi", "aperiam", "architecto", "asperiores", "aspernatur", "assumenda", "at", "atque", "aut",
    "autem", "beatae", "blanditiis", "commodi", "consectetur", "consequatur", "consequuntur",
    "corporis", "corrupti", "culpa", "cum", "cumque", "cupiditate", "debitis", "delectus",
    "deleniti", "deserunt", "dicta", "dignissimos", "distinctio", "dolor", "dolore", "dolorem",
    "doloremque", "dolores", "doloribus", "dolorum", "ducimus", "ea", "eaque", "earum", "eius",
    "eligendi", "enim", "eos", "error", "esse", "est", "et", "eum", "eveniet", "ex", "excepturi",
    "exercitationem", "expedita", "explicabo", "facere", "facilis", "fuga", "fugiat", "fugit",
    "harum", "hic", "id", "illo", "illum", "impedit", "in", "incidunt", "inventore", "ipsa", "ipsam",
    "ipsum", "iste", "itaque", "iure", "iusto", "labore", "laboriosam", "laborum", "laudantium",
    "libero", "magnam", "magni", "maiores", "maxime", "minima", "minus", "modi", "molestiae",
    "molestias", "mollitia", "nam", "natus", "necessitatibus", "nemo", "neque", "nesciunt", "nihil",
    "nisi", "nobis", "non", "nostrum", "nulla", "numquam", "obcaecati", "odio", "odit", "officia",
    "officiis", "omnis", "optio", "pariatur", "perferendis", "perspiciatis", "placeat", "porro",
    "possimus", "praesentium", "provident", "quae", "quaerat", "quam", "quas", "quasi", "qui",
    "quia", "quibusdam", "quidem", "quis", "quisquam", "quo", "quod", "quos", "ratione",
    "recusandae", "reiciendis", "rem", "repellat", "repellendus", "reprehenderit", "repudiandae",
    "rerum", "saepe", "sapiente", "sed", "sequi", "similique", "sint", "sit", "soluta", "sunt",
    "suscipit", "tempora", "tempore", "temporibus", "tenetur", "totam", "ullam", "unde", "ut",
    "vel", "velit", "veniam", "veritatis", "vero", "vitae", "voluptas", "voluptate", "voluptatem",
    "voluptates", "voluptatibus", "voluptatum",
];

pub(crate) const POKEMON: &[&str] = &[
    "Bulbasaur", "Ivysaur", "Venusaur", "Charmander", "Charmeleon", "Charizard", "Squirtle",
    "Wartortle", "Blastoise", "Caterpie", "Metapod", "Butterfree", "Weedle", "Kakuna", "Beedrill",
    "Pidgey", "Pidgeotto", "Pidgeot", "Rattata", "Raticate", "Spearow", "Fearow", "Ekans", "Arbok",
    "Pikachu", "Raichu", "Sandshrew", "Sandslash", "Nidoking", "Nidoqueen", "Clefairy", "Clefable",
    "Vulpix", "Ninetales", "Jigglypuff", "Wigglytuff", "Zubat", "Golbat", "Oddish", "Gloom",
    "Vileplume", "Paras", "Parasect", "Venonat", "Venomoth", "Diglett", "Dugtrio", "Meowth",
    "Persian", "Psyduck", "Golduck", "Mankey", "Primeape", "Growlithe", "Arcanine", "Poliwag",
    "Abra", "Kadabra", "Alakazam", "Machop", "Machoke", "Machamp", "Bellsprout", "Geodude",
    "Ponyta", "Rapidash", "Slowpoke", "Magnemite", "Doduo", "Seel", "Grimer", "Shellder", "Gastly",
    "Haunter", "Gengar", "Onix", "Drowzee", "Krabby", "Voltorb", "Exeggcute", "Cubone", "Hitmonlee",
    "Lickitung", "Koffing", "Rhyhorn", "Chansey", "Tangela", "Kangaskhan", "Horsea", "Goldeen",
    "Staryu", "Starmie", "Scyther", "Jynx", "Electabuzz", "Magmar", "Pinsir", "Tauros", "Magikarp",
    "Gyarados", "Lapras", "Ditto", "Eevee", "Vaporeon", "Jolteon", "Flareon", "Porygon", "Omanyte",
    "Kabuto", "Aerodactyl", "Snorlax", "Articuno", "Zapdos", "Moltres", "Dratini", "Dragonair",
    "Dragonite", "Mewtwo", "Mew",
];

#[cfg(test)]
mod tests {
    use super::*;

    fn all_words() -> impl Iterator<Item = &'static str> {
        let lists: [&[&str]; 15] = [
            MALE_FIRST_NAMES, FEMALE_FIRST_NAMES, LAST_NAMES, STREET_SUFFIXES, CITIES, STATES,
            COMPANY_SUFFIXES, FREE_EMAIL_DOMAINS, TLDS, GENRES, PUBLISHERS, IMAGE_TYPES, CARD_TYPES,
            LOREM, POKEMON,
        ];
        lists
            .into_iter()
            .flatten()
            .copied()
            .chain(COUNTRIES.iter().flat_map(|(c, n)| [*c, *n]))
    }

    #[test]
    fn words_are_json_safe_ascii() {
        for w in all_words() {
            assert!(!w.is_empty());
            assert!(w.bytes().all(|b| (0x20..0x7f).contains(&b) && b != b'"' && b != b'\\'), "{w:?}");
        }
    }

    #[test]
    fn names_and_country_codes_are_well_formed() {
        for n in MALE_FIRST_NAMES.iter().chain(FEMALE_FIRST_NAMES).chain(LAST_NAMES) {
            assert!(n.bytes().all(|b| b.is_ascii_alphabetic()), "{n}");
        }
        for (code, _) in COUNTRIES {
            assert!(code.len() == 2 && code.bytes().all(|b| b.is_ascii_uppercase()));
        }
    }
}
