// Relay fragments over Newsgraph's schema, as a Relay frontend writes them: every Node type
// refetchable through node(id:), and paginated connections (usePaginationFragment's shape).
import { graphql } from "relay-runtime";

export const story = graphql`
  fragment fragments_story on Story @refetchable(queryName: "StoryRefetchQuery") {
    id
    title
    readTimeMinutes
  }
`;

export const storySources = graphql`
  fragment fragments_storySources on Story
  @argumentDefinitions(count: { type: "Int", defaultValue: 5 }, cursor: { type: "String" })
  @refetchable(queryName: "StorySourcesPaginationQuery") {
    sources(first: $count, after: $cursor) @connection(key: "fragments_storySources_sources") {
      edges {
        node {
          id
          title
          outlet {
            name
            bias
          }
        }
      }
    }
  }
`;

export const topicStories = graphql`
  fragment fragments_topicStories on Topic
  @argumentDefinitions(count: { type: "Int", defaultValue: 10 }, cursor: { type: "String" })
  @refetchable(queryName: "TopicStoriesPaginationQuery") {
    name
    stories(first: $count, after: $cursor) @connection(key: "fragments_topicStories_stories") {
      edges {
        node {
          id
          title
        }
      }
    }
  }
`;

export const deepDive = graphql`
  fragment fragments_deepDive on DeepDive @refetchable(queryName: "DeepDiveRefetchQuery") {
    id
    title
  }
`;

export const source = graphql`
  fragment fragments_source on Source @refetchable(queryName: "SourceRefetchQuery") {
    id
    title
  }
`;

export const outlet = graphql`
  fragment fragments_outlet on Outlet @refetchable(queryName: "OutletRefetchQuery") {
    id
    name
  }
`;

export const topic = graphql`
  fragment fragments_topic on Topic @refetchable(queryName: "TopicRefetchQuery") {
    id
    name
  }
`;
