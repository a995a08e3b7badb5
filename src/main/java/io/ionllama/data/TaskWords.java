package io.ionllama.data;

import java.util.List;
import java.util.Set;

/**
 * The words of the character tasks ({@link Tasks}), in two disjoint lists. {@link #TRAIN} is what the
 * embedded corpus and {@code train --mix-tasks} spell, count, reverse and edit; {@link #HELD_OUT} never
 * appears as a word in any task line they write, so the evaluation suite ({@code eval --tasks chars})
 * can tell memorised words from character skill. Common English words of 3 to 9 lowercase ASCII letters.
 *
 * <p>Disjointness, and that no training word reversed is a held-out word (a reversal line would
 * otherwise write it), are checked by {@code TaskWordsTest}. Some held-out words do occur inside the
 * embedded corpus's stories (its story vocabulary is separate, {@link Stories}): the protocol only
 * promises that the model never saw a task done on them.
 */
public final class TaskWords {
    private TaskWords() {}

    /** Words the training text's task lines use. */
    public static final List<String> TRAIN = List.of(
            // the embedded corpus's first list, kept so old task lines stay training lines
            "apple", "banana", "garden", "river", "stone", "happy", "little", "yellow", "window", "puppy",
            "forest", "friend", "summer", "winter", "castle", "dragon", "rabbit", "flower", "bottle", "pencil",
            "school", "teacher", "kitten", "monkey", "butter", "cookie", "rocket", "planet", "sister", "brother",
            "morning", "evening", "candle", "basket", "bridge", "cloud", "dance", "ocean", "paper", "shadow",
            "tiger", "turtle", "velvet", "wagon", "zebra", "mirror", "orange", "parrot", "quiet", "ribbon",
            "cat", "dog", "sun", "moon", "tree", "bird", "fish", "ball", "cake", "book", "door", "star",
            // animals
            "horse", "sheep", "goat", "mouse", "frog", "duck", "bear", "fox", "lion", "whale",
            "snake", "eagle", "owl", "pig", "cow", "hen", "bee", "ant", "spider", "donkey",
            "camel", "goose", "pony", "shark", "seal", "crab", "snail", "worm", "moth", "bunny",
            "panda", "koala", "lizard", "beaver", "otter", "squirrel", "hamster", "chicken", "turkey", "pigeon",
            "robin", "crow", "swan", "puffin", "salmon",
            // food
            "bread", "milk", "cheese", "egg", "honey", "sugar", "salt", "pepper", "soup", "rice",
            "pasta", "pizza", "lemon", "grape", "cherry", "peach", "pear", "plum", "melon", "carrot",
            "potato", "tomato", "onion", "bean", "corn", "pie", "jam", "tea", "juice", "water",
            "candy", "donut", "muffin", "waffle", "noodle", "salad", "sandwich", "berry", "nut", "cereal",
            // home
            "table", "chair", "bed", "lamp", "clock", "cup", "plate", "spoon", "fork", "knife",
            "bowl", "oven", "sink", "bath", "towel", "soap", "pillow", "blanket", "sofa", "carpet",
            "floor", "roof", "wall", "stairs", "kitchen", "room", "house", "box", "bag", "key",
            "bell", "rope", "brush", "comb", "basin", "shower",
            // nature
            "rain", "snow", "wind", "storm", "sky", "hill", "lake", "sea", "sand", "rock",
            "leaf", "grass", "seed", "root", "branch", "island", "valley", "desert", "meadow", "field",
            "pond", "stream", "beach", "wave", "earth", "fire", "ice", "mud", "dust", "sunset",
            // people and the body
            "mother", "father", "baby", "uncle", "aunt", "cousin", "doctor", "farmer", "king", "queen",
            "prince", "princess", "pirate", "hand", "foot", "head", "nose", "mouth", "eye", "ear",
            "arm", "leg", "hair", "tooth", "heart", "finger", "knee", "smile", "family", "people",
            // things
            "car", "bus", "train", "boat", "ship", "plane", "truck", "bike", "kite", "drum",
            "piano", "guitar", "flute", "hat", "coat", "shoe", "sock", "shirt", "dress", "scarf",
            "glove", "boot", "ring", "crown", "coin", "map", "letter", "card", "gift", "toy",
            "doll", "robot", "puzzle", "game", "crayon", "marker", "picture", "blocks", "balloon", "button",
            // describing words
            "big", "small", "red", "blue", "green", "pink", "purple", "brown", "black", "white",
            "tall", "short", "long", "soft", "hard", "warm", "cold", "hot", "wet", "dry",
            "fast", "slow", "loud", "kind", "brave", "shy", "silly", "funny", "clever", "sleepy",
            "hungry", "angry", "sad", "glad", "bright", "dark", "clean", "dirty", "sweet", "sour",
            "fresh", "gentle", "strong", "tiny", "huge", "round", "empty", "full", "new", "old",
            "young", "busy", "pretty", "friendly", "careful",
            // doing words
            "run", "jump", "walk", "play", "sing", "read", "write", "swim", "fly", "climb",
            "sleep", "eat", "drink", "cook", "bake", "paint", "build", "open", "close", "find",
            "help", "give", "take", "look", "listen", "laugh", "cry", "hug", "kick", "throw",
            "catch", "push", "pull", "ride", "drive", "sit", "stand", "wait", "think", "learn",
            "teach", "share", "carry", "dream", "shout", "hide", "seek", "clap", "dig", "wash",
            // time
            "day", "night", "week", "month", "year", "today", "spring", "autumn", "hour", "minute",
            "noon", "tonight", "tomorrow", "weekend", "birthday", "holiday", "party", "picnic", "story", "song");

    /** Words no task line of the training text uses: the evaluation's held-out column. */
    public static final List<String> HELD_OUT = List.of(
            // animals
            "giraffe", "penguin", "dolphin", "kangaroo", "leopard", "rhino", "jaguar", "falcon", "badger", "hedgehog",
            "lobster", "octopus", "buffalo", "gorilla", "flamingo", "pelican", "raccoon", "cheetah", "hippo", "moose",
            "bison", "llama", "walrus", "beetle", "cricket", "sparrow", "ostrich", "hornet", "weasel", "toad",
            // food
            "mango", "apricot", "walnut", "almond", "pancake", "biscuit", "pickle", "garlic", "cabbage", "pumpkin",
            "radish", "celery", "spinach", "yogurt", "omelet", "olive", "raisin", "coconut", "vanilla", "ginger",
            "sausage", "bacon", "pretzel", "cupcake", "toast",
            // home
            "ladder", "bucket", "kettle", "teapot", "shelf", "cupboard", "curtain", "mattress", "hammer", "shovel",
            "needle", "thread", "zipper", "wallet", "pocket", "helmet", "jacket", "sweater", "sandal", "slipper",
            "mitten", "necklace", "bracelet", "umbrella", "envelope", "magnet", "lantern", "compass", "anchor", "barrel",
            "saddle", "cradle", "faucet", "broom", "attic",
            // nature
            "canyon", "glacier", "volcano", "jungle", "swamp", "prairie", "harbor", "cliff", "cave", "pebble",
            "boulder", "thunder", "rainbow", "breeze", "frost", "blossom", "acorn", "tulip", "daisy", "orchid",
            "cactus", "clover", "mushroom", "moss", "marble", "crystal", "comet", "galaxy", "puddle", "icicle",
            // people
            "nephew", "niece", "grandma", "grandpa", "sailor", "dentist", "baker", "painter", "soldier", "wizard",
            "giant", "knight", "captain", "pilot", "nurse", "chef", "judge", "author", "student", "neighbor",
            // things and places
            "trumpet", "violin", "banjo", "whistle", "trophy", "medal", "ticket", "stamp", "poster", "tablet",
            "camera", "radio", "engine", "tractor", "wheel", "sled", "canoe", "raft", "tunnel", "tower",
            "temple", "market", "library", "museum", "station", "garage", "cottage", "palace", "fountain", "bakery",
            // describing words
            "gloomy", "cheerful", "fuzzy", "narrow", "wide", "heavy", "smooth", "rough", "bitter", "spicy",
            "crispy", "lonely", "famous", "honest", "polite", "lucky", "noisy", "calm", "eager", "fierce",
            "humble", "grumpy", "sticky", "chilly",
            // doing words
            "whisper", "wander", "juggle", "giggle", "sneeze", "stumble", "borrow", "deliver", "explore", "gather",
            "knock", "march", "melt", "polish", "scrub", "sweep", "stir", "wrap", "unlock", "invent");

    private static final Set<String> HELD_OUT_SET = Set.copyOf(HELD_OUT);

    /** Whether {@code word} is on the held-out list. */
    public static boolean heldOut(String word) {
        return HELD_OUT_SET.contains(word);
    }
}
