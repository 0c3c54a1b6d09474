/** Fixed word lists for synthetic but plausible catalog data: categories, names, descriptions. */

export interface CategorySpec {
  name: string;
  /** Sku prefix. */
  code: string;
  minPriceCents: number;
  maxPriceCents: number;
  nouns: readonly string[];
}

export const CATEGORIES: readonly CategorySpec[] = [
  { name: "electronics", code: "ELC", minPriceCents: 1_999, maxPriceCents: 249_900, nouns: ["Headphones", "Speaker", "Charger", "Monitor", "Keyboard", "Router"] },
  { name: "books", code: "BOK", minPriceCents: 499, maxPriceCents: 6_999, nouns: ["Novel", "Cookbook", "Atlas", "Guide", "Anthology", "Biography"] },
  { name: "home", code: "HOM", minPriceCents: 899, maxPriceCents: 59_900, nouns: ["Lamp", "Cushion", "Rug", "Vase", "Clock", "Shelf"] },
  { name: "garden", code: "GRD", minPriceCents: 599, maxPriceCents: 89_900, nouns: ["Hose", "Planter", "Shovel", "Sprinkler", "Bench", "Trimmer"] },
  { name: "toys", code: "TOY", minPriceCents: 399, maxPriceCents: 19_900, nouns: ["Puzzle", "Robot", "Doll", "Kite", "Blocks", "Train"] },
  { name: "sports", code: "SPT", minPriceCents: 999, maxPriceCents: 149_900, nouns: ["Racket", "Ball", "Helmet", "Mat", "Bottle", "Gloves"] },
  { name: "beauty", code: "BTY", minPriceCents: 349, maxPriceCents: 12_900, nouns: ["Serum", "Lotion", "Palette", "Brush", "Mask", "Perfume"] },
  { name: "grocery", code: "GRC", minPriceCents: 99, maxPriceCents: 4_999, nouns: ["Coffee", "Tea", "Olive Oil", "Pasta", "Chocolate", "Honey"] },
  { name: "fashion", code: "FSH", minPriceCents: 1_499, maxPriceCents: 39_900, nouns: ["Jacket", "Shirt", "Scarf", "Dress", "Jeans", "Sweater"] },
  { name: "shoes", code: "SHO", minPriceCents: 2_499, maxPriceCents: 29_900, nouns: ["Sneakers", "Boots", "Sandals", "Loafers", "Slippers", "Trainers"] },
  { name: "jewelry", code: "JWL", minPriceCents: 1_999, maxPriceCents: 499_900, nouns: ["Ring", "Necklace", "Bracelet", "Earrings", "Watch", "Pendant"] },
  { name: "automotive", code: "AUT", minPriceCents: 799, maxPriceCents: 79_900, nouns: ["Wiper", "Mat", "Charger", "Jack", "Polish", "Mount"] },
  { name: "music", code: "MUS", minPriceCents: 999, maxPriceCents: 199_900, nouns: ["Guitar", "Strings", "Drumsticks", "Tuner", "Keyboard", "Vinyl"] },
  { name: "movies", code: "MOV", minPriceCents: 599, maxPriceCents: 4_999, nouns: ["Box Set", "Blu-ray", "Collection", "Edition", "Series", "Classic"] },
  { name: "office", code: "OFF", minPriceCents: 199, maxPriceCents: 69_900, nouns: ["Chair", "Notebook", "Pen", "Stapler", "Desk", "Binder"] },
  { name: "pet-supplies", code: "PET", minPriceCents: 299, maxPriceCents: 24_900, nouns: ["Leash", "Bed", "Bowl", "Toy", "Food", "Collar"] },
  { name: "health", code: "HLT", minPriceCents: 299, maxPriceCents: 19_900, nouns: ["Vitamins", "Scale", "Thermometer", "Bandage", "Massager", "Tonic"] },
  { name: "baby", code: "BBY", minPriceCents: 499, maxPriceCents: 59_900, nouns: ["Stroller", "Bottle", "Blanket", "Monitor", "Onesie", "Rattle"] },
  { name: "tools", code: "TOL", minPriceCents: 599, maxPriceCents: 89_900, nouns: ["Drill", "Hammer", "Wrench", "Saw", "Level", "Toolbox"] },
  { name: "outdoor", code: "OUT", minPriceCents: 999, maxPriceCents: 99_900, nouns: ["Tent", "Backpack", "Lantern", "Stove", "Hammock", "Compass"] },
];

export const ADJECTIVES: readonly string[] = [
  "Classic", "Compact", "Deluxe", "Eco", "Essential", "Premium", "Smart", "Ultra", "Vintage", "Wireless",
  "Portable", "Rugged", "Slim", "Organic", "Pro", "Urban", "Nordic", "Bold", "Soft", "Quick",
];

export const COLORS: readonly string[] = ["Black", "White", "Red", "Blue", "Green", "Grey", "Sand", "Navy", "Olive", "Teal"];

export const DESCRIPTION_WORDS: readonly string[] = [
  "durable", "lightweight", "designed", "for", "everyday", "use", "with", "a", "two-year", "warranty",
  "made", "from", "recycled", "materials", "easy", "to", "clean", "and", "store", "ideal",
  "gift", "comfortable", "reliable", "tested", "quality", "modern", "look", "fits", "most", "homes",
];

export const STOCK_REASONS: readonly string[] = ["restock", "inventory count", "damaged", "returned", "supplier delivery"];
export const CANCEL_REASONS: readonly string[] = ["customer request", "payment timeout", "address problem", "duplicate order", ""];
export const CARRIERS: readonly string[] = ["DHL", "UPS", "FedEx", "PostNL", "GLS", "DPD"];
