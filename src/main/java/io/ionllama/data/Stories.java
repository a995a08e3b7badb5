package io.ionllama.data;

import java.util.SplittableRandom;

/**
 * A small story grammar in the manner of TinyStories: a character, a place, a wish, a problem, a
 * helper and an ending, each with a few phrasings. Enough variety that a small model has to learn
 * words, agreement and simple narrative order, little enough that it can.
 */
final class Stories {
    private Stories() {}

    private static final String[] NAMES = {"Lily", "Tom", "Mia", "Ben", "Sara", "Max", "Anna", "Leo", "Zoe", "Sam", "Lucy", "Jack"};
    private static final String[] ANIMALS = {"cat", "dog", "bird", "bunny", "frog", "duck", "bear", "fox", "mouse", "puppy"};
    private static final String[] PLACES = {"the park", "the garden", "the forest", "the beach", "the yard", "the farm", "the hill", "the lake"};
    private static final String[] THINGS = {"a red ball", "a big kite", "a shiny stone", "a little boat", "a blue hat", "a toy car", "a yellow flower", "a funny book"};
    private static final String[] ADJ = {"happy", "kind", "curious", "brave", "shy", "silly", "small", "clever"};
    private static final String[] FEEL = {"happy", "sad", "scared", "excited", "surprised", "tired", "proud"};
    private static final String[] WEATHER = {"sunny", "rainy", "windy", "cold", "warm", "bright"};

    static void story(SplittableRandom r, StringBuilder s) {
        String hero = pick(r, NAMES);
        String he = isGirl(hero) ? "she" : "he";
        String his = isGirl(hero) ? "her" : "his";
        String friend = pick(r, NAMES);
        while (friend.equals(hero)) {
            friend = pick(r, NAMES);
        }
        String animal = pick(r, ANIMALS);
        String place = pick(r, PLACES);
        String thing = pick(r, THINGS);
        String thingShort = thing.substring(thing.indexOf(' ') + 1);

        switch (r.nextInt(3)) {
            case 0 -> s.append("Once upon a time, there was a ").append(pick(r, ADJ)).append(" ").append(kid(hero)).append(" named ").append(hero).append(". ");
            case 1 -> s.append("One ").append(pick(r, WEATHER)).append(" day, ").append(hero).append(" went to ").append(place).append(". ");
            default -> s.append(hero).append(" was a ").append(pick(r, ADJ)).append(" ").append(kid(hero)).append(" who loved ").append(place).append(". ");
        }
        s.append(cap(he)).append(" had ").append(thing).append(" and a ").append(animal).append(" friend. ");
        switch (r.nextInt(3)) {
            case 0 -> s.append("One day, the ").append(animal).append(" lost the ").append(thingShort).append(" in ").append(place).append(". ");
            case 1 -> s.append("One day, the ").append(thingShort).append(" fell into a deep hole. ");
            default -> s.append("One day, a big wind took the ").append(thingShort).append(" up into a tree. ");
        }
        s.append(hero).append(" felt ").append(pick(r, FEEL)).append(". ");
        s.append(cap(he)).append(" asked ").append(friend).append(" for help. ");
        s.append('"').append(pick(r, new String[] {"Can you help me find my ", "Please help me get my ", "Where is my "}))
                .append(thingShort).append(r.nextBoolean() ? "?\" " : ", " + friend + "?\" ");
        s.append(friend).append(" said, \"").append(pick(r, new String[] {"Yes, I will help you!", "Let us look together.", "Do not worry, we can do it."})).append("\" ");
        int steps = 1 + r.nextInt(3);
        for (int i = 0; i < steps; i++) {
            s.append(pick(r, new String[] {
                "They looked under a bush. ", "They climbed up the hill. ", "They asked a " + pick(r, ANIMALS) + " for help. ",
                "They walked to " + pick(r, PLACES) + ". ", "They looked behind a big rock. "}));
        }
        s.append("At last, they found the ").append(thingShort).append(". ");
        s.append(hero).append(" was so ").append(pick(r, new String[] {"happy", "glad", "thankful"})).append(". ");
        s.append(cap(he)).append(" hugged ").append(friend).append(" and the ").append(animal).append(". ");
        s.append(pick(r, new String[] {
            "From that day on, they were best friends.", "They played together until the sun went down.",
            "Then " + he + " went home with " + his + " " + thingShort + ".", "It was the best day ever."})).append('\n');
    }

    private static String pick(SplittableRandom r, String[] a) {
        return a[r.nextInt(a.length)];
    }

    private static boolean isGirl(String name) {
        return switch (name) {
            case "Lily", "Mia", "Sara", "Anna", "Zoe", "Lucy" -> true;
            default -> false;
        };
    }

    private static String kid(String name) {
        return isGirl(name) ? "girl" : "boy";
    }

    private static String cap(String w) {
        return Character.toUpperCase(w.charAt(0)) + w.substring(1);
    }
}
