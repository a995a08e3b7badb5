# Sourced by scripts/ionllama, scripts/test and .ci/run: finds a JDK >= 21 and Maven.
# Sets JAVA_HOME and IONLLAMA_JAVA, or prints one line saying what to install and exits 1.

ionllama_java_major() {  # $1 = a java binary; prints its feature version (17, 21, 25...)
    "$1" -XshowSettings:properties -version 2>&1 | awk -F'= ' '/java.specification.version/ {print $2; exit}' | cut -d. -f1
}

ionllama_find_jdk() {
    local best="" best_major=0 cand major
    if [ -n "${JAVA_HOME:-}" ] && [ -x "$JAVA_HOME/bin/javac" ]; then
        major=$(ionllama_java_major "$JAVA_HOME/bin/java")
        if [ "${major:-0}" -ge 21 ]; then
            IONLLAMA_JAVA="$JAVA_HOME/bin/java"
            return 0
        fi
    fi
    for cand in /usr/lib/jvm/* /usr/java/* /opt/java/* /opt/jdk* "$HOME"/.sdkman/candidates/java/* "$HOME"/.jdks/*; do
        [ -x "$cand/bin/javac" ] || continue
        major=$(ionllama_java_major "$cand/bin/java")
        if [ "${major:-0}" -gt "$best_major" ]; then
            best="$cand"; best_major="$major"
        fi
    done
    if [ "$best_major" -ge 21 ]; then
        export JAVA_HOME="$best"
        IONLLAMA_JAVA="$best/bin/java"
        return 0
    fi
    echo "ionllama: needs a JDK >= 21 (found ${best_major:-none}); install one (e.g. Temurin 21 or 25) under /usr/lib/jvm or set JAVA_HOME" >&2
    exit 1
}

ionllama_find_maven() {
    if command -v mvn >/dev/null 2>&1; then
        IONLLAMA_MVN=mvn
        return 0
    fi
    echo "ionllama: needs Apache Maven 3.8+ to build (install it: apt-get install maven)" >&2
    exit 1
}

ionllama_find_jdk
export JAVA_HOME
