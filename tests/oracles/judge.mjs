// The networks' own code as the tests' judge. Reads one JSON string a line on stdin and
// writes, for each, one JSON line: the facets Bluesky's app would make of it (@atproto/api's
// RichText.detectFacetsWithoutResolution: mentions keep their handle where a DID would go)
// and X's weighted length and validity (twitter-text's parseTweet) and the hashtags X finds
// (twitter-text's extractHashtags).
import { RichText } from '@atproto/api'
import twitter from 'twitter-text'
import { createInterface } from 'node:readline'

const lines = createInterface({ input: process.stdin, crlfDelay: Infinity })
for await (const line of lines) {
  if (!line) continue
  const text = JSON.parse(line)
  const rich = new RichText({ text })
  rich.detectFacetsWithoutResolution()
  const tweet = twitter.parseTweet(text)
  const verdict = {
    facets: rich.facets ?? [],
    x: tweet.weightedLength,
    valid: tweet.valid,
    hashtags: twitter.extractHashtags(text),
  }
  process.stdout.write(JSON.stringify(verdict) + '\n')
}
